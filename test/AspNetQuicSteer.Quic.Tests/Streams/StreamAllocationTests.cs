using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Frames;
using AspNetQuicSteer.Quic.Streams;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Tests.Streams;

[CollectionDefinition(nameof(StreamAllocationTests), DisableParallelization = true)]
public sealed class StreamAllocationTestsDefinition;

/// <summary>
/// The per-packet path (write frames, handle frames, ack/loss, app write/read) allocates nothing in
/// steady state. Run alone: other tests' use of the shared ArrayPool would blur the measurement.
/// </summary>
[Collection(nameof(StreamAllocationTests))]
public sealed class StreamAllocationTests
{
    [Fact]
    public void SteadyStateTransfer_PacketPathAllocatesNothing()
    {
        var options = new QuicStreamOptions { InitialStreamReceiveWindow = 64 * 1024, InitialConnectionReceiveWindow = 256 * 1024 };
        var pump = new StreamPump(options, options);
        QuicStreamManager client = pump.Client;
        QuicStreamManager server = pump.Server;
        Assert.True(client.TryOpenStream(bidirectional: true, out ulong id));
        client.Write(id, [1], fin: false);
        var clientSink = new ArraySink();
        var serverSink = new ArraySink();
        byte[] packet = new byte[1200];
        Exchange(client, server, clientSink, packet, TimeSpan.Zero, TimeSpan.Zero, lose: false);
        Assert.True(server.TryAcceptStream(out ulong accepted));
        Assert.Equal(id, accepted);
        byte[] appData = new byte[3000];
        byte[] readBuffer = new byte[8000];
        TimeSpan now = TimeSpan.FromSeconds(1);
        TimeSpan rtt = TimeSpan.FromMilliseconds(30);

        void Round(int i)
        {
            client.Write(id, appData, fin: false);
            if (i % 3 == 0)
            {
                server.Write(id, appData.AsSpan(0, 700), fin: false);
            }

            for (int p = 0; p < 4; p++)
            {
                Exchange(client, server, clientSink, packet, now, rtt, lose: p == 1 && i % 4 == 0);
                Exchange(server, client, serverSink, packet, now, rtt, lose: false);
            }

            while (server.Read(id, readBuffer, out _) > 0)
            {
            }

            while (client.Read(id, readBuffer, out _) > 0)
            {
            }

            while (client.TryDequeueEvent(out _) || server.TryDequeueEvent(out _))
            {
            }

            now += rtt;
        }

        for (int i = 0; i < 300; i++)
        {
            Round(i);
        }

        // Shared ArrayPool buckets can be trimmed by a GC at any time, so take the best of three windows:
        // a per-round allocation shows up in all of them.
        long allocated = long.MaxValue;
        for (int window = 0, i = 300; window < 3; window++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int end = i + 1000; i < end; i++)
            {
                Round(i);
            }

            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.True(client.SentData > 3_000_000, $"sent {client.SentData}");
        Assert.Equal(0, allocated);
    }

    private static void Exchange(QuicStreamManager sender, QuicStreamManager receiver, ArraySink sink, byte[] packet, TimeSpan now, TimeSpan rtt, bool lose)
    {
        if (!sender.HasDataToSend)
        {
            return;
        }

        sink.Count = 0;
        var writer = new QuicWriter(packet);
        if (!sender.WriteFrames(ref writer, sink, now, rtt))
        {
            return;
        }

        if (!lose)
        {
            Feed(receiver, packet.AsSpan(0, writer.Position));
        }

        for (int i = 0; i < sink.Count; i++)
        {
            if (lose)
            {
                sender.OnFrameLost(sink.Frames[i]);
            }
            else
            {
                sender.OnFrameAcknowledged(sink.Frames[i]);
            }
        }
    }

    private static void Feed(QuicStreamManager receiver, ReadOnlySpan<byte> payload)
    {
        var reader = new FrameReader(payload, EncryptionLevel.OneRtt, datagramFramesAccepted: false);
        while (reader.TryReadFrameType(out ulong type))
        {
            switch (FrameTypes.Normalize(type))
            {
                case FrameType.Stream:
                    StreamFrame stream = StreamFrame.Parse(ref reader.Reader, type);
                    receiver.OnStreamFrame(in stream);
                    break;
                case FrameType.MaxData:
                    receiver.OnMaxDataFrame(MaxDataFrame.Parse(ref reader.Reader, type));
                    break;
                case FrameType.MaxStreamData:
                    receiver.OnMaxStreamDataFrame(MaxStreamDataFrame.Parse(ref reader.Reader, type));
                    break;
                case FrameType.DataBlocked:
                    receiver.OnDataBlockedFrame(DataBlockedFrame.Parse(ref reader.Reader, type));
                    break;
                case FrameType.StreamDataBlocked:
                    receiver.OnStreamDataBlockedFrame(StreamDataBlockedFrame.Parse(ref reader.Reader, type));
                    break;
                default:
                    throw new InvalidOperationException($"Unexpected frame 0x{type:x}.");
            }
        }
    }

    private sealed class ArraySink : ISentFrameSink
    {
        public SentFrame[] Frames { get; } = new SentFrame[256];

        public int Count { get; set; }

        public void Record(in SentFrame frame) => Frames[Count++] = frame;
    }
}
