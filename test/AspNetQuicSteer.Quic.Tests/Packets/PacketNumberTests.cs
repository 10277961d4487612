using AspNetQuicSteer.Quic.Packets;
using CsCheck;

namespace AspNetQuicSteer.Quic.Tests.Packets;

public sealed class PacketNumberTests
{
    // RFC 9000 §A.2: acked 0xabe8b3, sending 0xac5c02 → 16 bits; sending 0xace8fe → 24 bits.
    [Theory]
    [InlineData(0xac5c02UL, 0xabe8b3UL, 2)]
    [InlineData(0xace8feUL, 0xabe8b3UL, 3)]
    public void EncodedLengthMatchesRfc9000AppendixA2(ulong packetNumber, ulong largestAcknowledged, int expectedBytes)
        => Assert.Equal(expectedBytes, PacketNumber.GetEncodedLength(packetNumber, largestAcknowledged));

    // RFC 9000 §A.2 boundaries: twice the range must be representable (128 unacked fits 8 bits, 129 does not).
    [Theory]
    [InlineData(0UL, null, 1)]
    [InlineData(127UL, null, 1)]
    [InlineData(128UL, null, 2)]
    [InlineData(228UL, 100UL, 1)]
    [InlineData(229UL, 100UL, 2)]
    [InlineData(100UL + (1UL << 31), 100UL, 4)]
    public void EncodedLengthCoversTwiceTheUnacknowledgedRange(ulong packetNumber, ulong? largestAcknowledged, int expectedBytes)
        => Assert.Equal(expectedBytes, PacketNumber.GetEncodedLength(packetNumber, largestAcknowledged));

    [Fact]
    public void EncodedLengthRefusesMoreThanFourBytes()
        => Assert.Throws<InvalidOperationException>(() => PacketNumber.GetEncodedLength(101UL + (1UL << 31), 100));

    // RFC 9000 §A.3: largest 0xa82f30ea, 16-bit value 0x9b32 decodes to 0xa82f9b32.
    [Fact]
    public void DecodesRfc9000AppendixA3Example()
        => Assert.Equal(0xa82f9b32UL, PacketNumber.Decode(0x9b32, 2, 0xa82f30ea));

    [Theory]
    [InlineData(0x00UL, 1, null, 0x00UL)]          // first packet of a space
    [InlineData(0x02UL, 4, null, 0x02UL)]          // RFC 9001 §A.2 client Initial, packet number 2
    [InlineData(0x01UL, 1, 0xffUL, 0x101UL)]       // wraps forward
    [InlineData(0xffUL, 1, 0x100UL, 0xffUL)]       // slightly behind stays behind
    [InlineData(0x00UL, 1, 0x3ffffffffffffffeUL, 0x3fffffffffffff00UL)] // never decodes above 2^62-1
    public void DecodesAroundWindowEdges(ulong truncated, int length, ulong? largest, ulong expected)
        => Assert.Equal(expected, PacketNumber.Decode(truncated, length, largest));

    [Fact]
    public void WriteAndReadTruncatedAreInverse()
    {
        Span<byte> buffer = stackalloc byte[4];
        PacketNumber.Write(buffer, 0xa82f9b32, 2);
        Assert.Equal("9b32", Convert.ToHexStringLower(buffer[..2]));
        Assert.Equal(0x9b32u, PacketNumber.ReadTruncated(buffer, 2));
    }

    // RFC 9000 §17.1: any receiver whose largest processed number lies between the sender's largest
    // acknowledged and the packet being sent recovers the full number from the chosen encoding.
    [Fact]
    public void EncodingChosenPerAppendixA2AlwaysDecodesPerAppendixA3()
    {
        Gen.Select(Gen.ULong[0, 1UL << 61], Gen.ULong[1, 1UL << 30], Gen.ULong).Sample((largestAcked, distance, receiverPick) =>
        {
            ulong packetNumber = largestAcked + distance;
            int length = PacketNumber.GetEncodedLength(packetNumber, largestAcked);
            Span<byte> buffer = stackalloc byte[4];
            PacketNumber.Write(buffer, packetNumber, length);
            ulong receiverLargest = largestAcked + (receiverPick % distance);
            return PacketNumber.Decode(PacketNumber.ReadTruncated(buffer, length), length, receiverLargest) == packetNumber;
        }, iter: 100_000);
    }
}
