using System.Security.Cryptography;
using AspNetQuicSteer.Quic.Crypto;
using CsCheck;
using static AspNetQuicSteer.Quic.Tests.Crypto.PacketProtectionTestPackets;

namespace AspNetQuicSteer.Quic.Tests.Crypto;

public sealed class PacketProtectionKeysTests
{
    public static TheoryData<ushort> Suites =>
        [(ushort)TlsCipherSuite.Aes128GcmSha256, (ushort)TlsCipherSuite.Aes256GcmSha384, (ushort)TlsCipherSuite.ChaCha20Poly1305Sha256];

    [Theory]
    [MemberData(nameof(Suites))]
    public void WholePacketsRoundTripForLongAndShortHeaders(ushort suiteId)
    {
        // RFC 9001 §5.3 then §5.4.1 on send; §5.4.1 then §5.3 on receive; every pn length and the minimum payload
        // that still leaves a full sample (§5.4.2).
        var suite = (TlsCipherSuite)suiteId;
        byte[] secret = RandomNumberGenerator.GetBytes(suite.HashLength());
        using PacketProtectionKeys sender = PacketProtectionKeys.Create(suite, secret);
        using PacketProtectionKeys receiver = PacketProtectionKeys.Create(suite, secret);
        var gen = from longHeader in Gen.Bool
                  from pnOffset in Gen.Int[1, 60]
                  from pnLength in Gen.Int[1, 4]
                  from pn in Gen.ULong[0, PacketAead.MaxPacketNumber]
                  from payload in Gen.Byte.Array[PacketProtectionKeys.MinPayloadLength(pnLength), 1300]
                  select (longHeader, pnOffset, pnLength, pn, payload);
        gen.Sample(c =>
        {
            byte[] packet = Unprotected(c.longHeader, c.pnOffset, c.pnLength, c.pn, c.payload);
            byte[] header = packet.AsSpan(0, c.pnOffset + c.pnLength).ToArray();
            Assert.Equal(packet.Length, sender.Seal(packet, c.pnOffset, c.pnLength, c.payload.Length, c.pn));
            Assert.True(receiver.TryUnprotectHeader(packet, c.pnOffset, out int pnLength));
            Assert.Equal(c.pnLength, pnLength);
            Assert.Equal(header, packet.AsSpan(0, header.Length).ToArray());
            Assert.True(receiver.TryOpen(packet, c.pnOffset, pnLength, c.pn, out int payloadLength));
            Assert.Equal(c.payload, packet.AsSpan(header.Length, payloadLength).ToArray());
        }, iter: 1_000, threads: 1);
        Assert.Equal(0, receiver.Integrity.FailedOpens);
    }

    [Fact]
    public void MinimumPayloadLeavesExactlyOneSample()
    {
        // RFC 9001 §5.4.2: pn length + payload >= 4 so that pn_offset + 4 + 16 fits with the 16-byte tag.
        Assert.Equal(16, PacketProtectionKeys.TagLength);
        Assert.Equal(16, PacketProtectionKeys.SampleLength);
        Assert.Equal(4, PacketProtectionKeys.MinPacketNumberAndPayloadLength);
        Assert.Equal([3, 2, 1, 0], new[] { 1, 2, 3, 4 }.Select(PacketProtectionKeys.MinPayloadLength).ToArray());
    }

    [Theory]
    [InlineData(1, 1, 2, 40)]            // payload 2 + pn 1 < 4: no complete sample (§5.4.2)
    [InlineData(0, 1, 10, 40)]           // no first byte before the packet number
    [InlineData(5, 5, 10, 60)]           // pn length 5
    [InlineData(5, 2, 30, 40)]           // no room for the tag
    [InlineData(int.MaxValue, 4, 10, 60)] // offsets that would overflow
    [InlineData(5, 2, int.MaxValue, 60)]
    [InlineData(5, 2, -1, 60)]
    public void SealRejectsInvalidLayouts(int pnOffset, int pnLength, int payloadLength, int bufferLength)
    {
        using PacketProtectionKeys keys = RandomKeys(TlsCipherSuite.Aes128GcmSha256);
        byte[] packet = new byte[bufferLength];
        packet[0] = (byte)(0x40 | ((pnLength - 1) & 3));
        Assert.Throws<ArgumentException>(() => keys.Seal(packet, pnOffset, pnLength, payloadLength, 0));
        Assert.Equal(0, keys.PacketsSealed);
    }

    [Fact]
    public void SealRejectsAFirstByteWhosePacketNumberLengthBitsDisagree()
    {
        // RFC 9000 §17.2/§17.3.1: the low 2 bits of byte 0 encode pn length - 1; they are covered by the AEAD.
        using PacketProtectionKeys keys = RandomKeys(TlsCipherSuite.Aes128GcmSha256);
        byte[] packet = Unprotected(false, 5, 2, 9, new byte[20]);
        packet[0] = 0x40 | 0x00;
        Assert.Throws<ArgumentException>(() => keys.Seal(packet, 5, 2, 20, 9));
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(-1, 1)]
    [InlineData(5, 0)]
    [InlineData(5, 5)]
    [InlineData(int.MaxValue, 4)]
    [InlineData(40, 2)]
    public void TryOpenReturnsFalseForInvalidLayouts(int pnOffset, int pnLength)
    {
        using PacketProtectionKeys keys = RandomKeys(TlsCipherSuite.ChaCha20Poly1305Sha256);
        byte[] packet = RandomNumberGenerator.GetBytes(50);
        Assert.False(keys.TryOpen(packet, pnOffset, pnLength, 0, out int payloadLength));
        Assert.Equal(0, payloadLength);
        Assert.False(keys.TryOpen([], 1, 1, 0, out _));
        Assert.Equal(0, keys.Integrity.FailedOpens);
    }

    [Theory]
    [InlineData((ushort)TlsCipherSuite.Aes128GcmSha256, 48)]
    [InlineData((ushort)TlsCipherSuite.Aes256GcmSha384, 32)]
    [InlineData((ushort)TlsCipherSuite.ChaCha20Poly1305Sha256, 16)]
    public void CreateRejectsSecretsOfTheWrongHashLength(ushort suiteId, int secretLength)
    {
        // RFC 9001 §5.1 with RFC 8446 §7.1: traffic secrets are Hash.length bytes.
        Assert.Throws<ArgumentException>(() => PacketProtectionKeys.Create((TlsCipherSuite)suiteId, new byte[secretLength]));
    }
}
