using AspNetQuicSteer.Quic.Packets;
using AspNetQuicSteer.Quic.Wire;
using CsCheck;

namespace AspNetQuicSteer.Quic.Tests.Packets;

/// <summary>Invariant 7 of the architecture: any bytes on the port produce a dropped packet, never an exception.</summary>
public sealed class PacketFuzzTests
{
    private static readonly byte[][] Seeds = BuildSeeds();

    [Fact]
    public void RandomBytesNeverThrowFromHeaderParserOrCoalescedIterator()
        => Gen.Byte.Array[0, 200].Sample(CheckDatagram, iter: 100_000);

    [Fact]
    public void MutatedValidDatagramsNeverThrowFromHeaderParserOrCoalescedIterator()
        => Mutations.Of(Seeds).Sample(CheckDatagram, iter: 100_000);

    private static void CheckDatagram(byte[] datagram)
    {
        foreach (bool greased in (ReadOnlySpan<bool>)[false, true])
        {
            if (PacketHeader.TryParse(datagram, 8, greased, out PacketHeader header))
            {
                AssertWithin(header, datagram.Length);
            }

            int total = 0;
            var enumerator = new CoalescedPacketEnumerator(datagram, 8, greased);
            while (enumerator.MoveNext())
            {
                CoalescedPacket packet = enumerator.Current;
                AssertWithin(packet.Header, packet.Bytes.Length);
                Assert.True(packet.Offset >= total);
                total = packet.Offset + packet.Bytes.Length;
                if (packet.Header.Type == QuicPacketType.VersionNegotiation)
                {
                    foreach (uint version in VersionNegotiationPacket.GetSupportedVersions(packet.Bytes, packet.Header))
                    {
                        _ = version;
                    }
                }
            }

            Assert.True(total <= datagram.Length);
        }

        PacketHeader.TryReadDestinationConnectionId(datagram, 8, out _);
    }

    private static void AssertWithin(in PacketHeader header, int length)
    {
        Assert.InRange(header.PacketLength, 1, length);
        Assert.InRange(header.DestinationConnectionIdOffset + header.DestinationConnectionIdLength, 0, header.PacketLength);
        Assert.InRange(header.SourceConnectionIdOffset + header.SourceConnectionIdLength, 0, header.PacketLength);
        Assert.InRange(header.TokenOffset + header.TokenLength, 0, header.PacketLength);
        Assert.True(header.PacketNumberOffset < header.PacketLength);
    }

    private static byte[][] BuildSeeds()
    {
        byte[] dcid = Convert.FromHexString("0102030405060708");
        var buffer = new byte[300];
        var writer = new QuicWriter(buffer);
        LongHeaderLayout initial = LongHeaderWriter.Write(ref writer, QuicPacketType.Initial, QuicVersion.Version1, dcid, [9], [1, 2, 3], 5, 2);
        writer.Reserve(40);
        LongHeaderWriter.PatchLength(buffer, initial, writer.Position);
        LongHeaderLayout handshake = LongHeaderWriter.Write(ref writer, QuicPacketType.Handshake, QuicVersion.Version1, dcid, [9], [], 6, 1);
        writer.Reserve(30);
        LongHeaderWriter.PatchLength(buffer, handshake, writer.Position);
        ShortHeaderWriter.Write(ref writer, dcid, 7, 3, spin: true, keyPhase: false);
        writer.Reserve(20);
        byte[] coalesced = writer.Written.ToArray();

        var vnBuffer = new byte[VersionNegotiationPacket.GetLength(2, 8, 3)];
        var vnWriter = new QuicWriter(vnBuffer);
        VersionNegotiationPacket.Write(ref vnWriter, 7, dcid, [1, 2], [1, 0x0a0a0a0a, 0xff00001d]);

        return
        [
            RfcVectors.ClientInitialDatagram(),
            RfcVectors.ServerInitialDatagram(),
            Convert.FromHexString(RfcVectors.Retry),
            coalesced,
            vnBuffer,
        ];
    }
}
