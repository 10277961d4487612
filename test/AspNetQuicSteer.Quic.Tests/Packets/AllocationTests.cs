using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Frames;
using AspNetQuicSteer.Quic.Packets;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Tests.Packets;

public sealed class AllocationTests
{
    // Project rule: the per-packet path (header parse, coalescing, frame parse and write) allocates nothing.
    [Fact]
    public void ParsingAndWritingAPacketAllocatesNothing()
    {
        byte[] datagram = RfcVectors.ClientInitialDatagram();
        byte[] payload = Convert.FromHexString("020a03010200010a04026869" + "1802010401020304000102030405060708090a0b0c0d0e0f" + "1c0a0603616263");
        byte[] output = new byte[256];
        RunOnce(datagram, payload, output); // warm up JIT and statics

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            RunOnce(datagram, payload, output);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private static void RunOnce(byte[] datagram, byte[] payload, byte[] output)
    {
        foreach (CoalescedPacket packet in new CoalescedPacketEnumerator(datagram, 8))
        {
            Assert.True(packet.Header.HasPacketNumber);
        }

        var writer = new QuicWriter(output);
        var frames = new FrameReader(payload, EncryptionLevel.OneRtt, datagramFramesAccepted: false);
        while (frames.TryReadFrameType(out ulong type))
        {
            switch (FrameTypes.Normalize(type))
            {
                case FrameType.Ack:
                    AckFrame ack = AckFrame.Parse(ref frames.Reader, type);
                    foreach (AckRange range in ack.GetRanges())
                    {
                        _ = range.Largest;
                    }

                    ack.Write(ref writer);
                    break;
                case FrameType.Stream:
                    StreamFrame.Parse(ref frames.Reader, type).Write(ref writer);
                    break;
                case FrameType.NewConnectionId:
                    NewConnectionIdFrame.Parse(ref frames.Reader, type).Write(ref writer);
                    break;
                case FrameType.ConnectionCloseTransport:
                    ConnectionCloseFrame.Parse(ref frames.Reader, type).Write(ref writer);
                    break;
                default:
                    throw new InvalidOperationException("Unexpected frame in the fixture.");
            }
        }

        Span<AckRange> ranges = [new(8, 10), new(5, 6)];
        AckFrame.Write(ref writer, ranges, 3, null);
    }
}
