using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Streams;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Tests.Streams;

/// <summary>End-to-end transfers between two stream managers over the lossy in-memory pump.</summary>
public sealed class StreamTransferTests
{
    internal static void RunUntil(StreamPump pump, StreamApp client, StreamApp server, Func<bool> done, int maxSteps = 3000)
    {
        for (int step = 0; step < maxSteps; step++)
        {
            client.Run();
            server.Run();
            if (done())
            {
                return;
            }

            pump.Step();
        }

        Assert.Fail($"Not done after {maxSteps} steps (client streams {pump.Client.StreamCount}, server streams {pump.Server.StreamCount}, in flight {pump.InFlight}).");
    }

    /// <summary>Runs until both managers released every stream (RFC 9000 §3: both parts terminal).</summary>
    internal static void RunUntilReleased(StreamPump pump, StreamApp client, StreamApp server, int maxSteps = 3000)
        => RunUntil(pump, client, server, () => pump.Client.StreamCount == 0 && pump.Server.StreamCount == 0 && pump.InFlight == 0, maxSteps);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ManyStreams_WithLossReorderAndDuplication_DeliverExactBytesAndRelease(int seed)
    {
        var options = new QuicStreamOptions { InitialStreamReceiveWindow = 16 * 1024, InitialConnectionReceiveWindow = 64 * 1024 };
        var pump = new StreamPump(options, options, seed)
        {
            LossRate = 0.1,
            DuplicateRate = 0.05,
            AckLossRate = 0.05,
            Reorder = true,
        };
        var client = new StreamApp(pump.Client);
        var server = new StreamApp(pump.Server) { Respond = id => StreamApp.Payload(id, (int)(id % 9000), salt: 1) };
        var random = new Random(seed);
        var expected = new Dictionary<ulong, byte[]>();
        for (int i = 0; i < 40; i++)
        {
            byte[] payload = StreamApp.Payload((ulong)i, random.Next(0, 30_000));
            Assert.True(client.TryOpen(bidirectional: true, payload, out ulong id));
            expected[id] = payload;
        }

        for (int i = 0; i < 10; i++)
        {
            byte[] payload = StreamApp.Payload((ulong)(100 + i), random.Next(0, 30_000));
            Assert.True(client.TryOpen(bidirectional: false, payload, out ulong id));
            expected[id] = payload;
            payload = StreamApp.Payload((ulong)(200 + i), random.Next(0, 30_000));
            Assert.True(server.TryOpen(bidirectional: false, payload, out id));
            expected[id] = payload;
        }

        RunUntil(pump, client, server, () => server.ReadFinished.Count == 50 && client.ReadFinished.Count == 50);
        RunUntilReleased(pump, client, server);

        foreach ((ulong id, byte[] payload) in expected)
        {
            bool clientOpened = StreamId.IsClientInitiated(id);
            StreamApp receiver = clientOpened ? server : client;
            StreamApp.AssertBytes(payload, receiver.Received[id]);
            if (clientOpened && StreamId.IsBidirectional(id))
            {
                StreamApp.AssertBytes(StreamApp.Payload(id, (int)(id % 9000), salt: 1), client.Received[id]);
            }
        }

        // RFC 9000 §4.1: data never went beyond the credit the receiver had put on the wire.
        Assert.Equal(0UL, pump.ServerCredit.Violations);
        Assert.Equal(0UL, pump.ClientCredit.Violations);
        Assert.True(pump.FramesSentByKind[SentFrameKind.Stream] > 100);
        Assert.Equal(60, client.CountEvents(QuicStreamEventKind.Released));
        Assert.Equal(60, server.CountEvents(QuicStreamEventKind.Released));
        Assert.Equal(50, server.CountEvents(QuicStreamEventKind.PeerOpened));
    }

    [Fact]
    public void Fin_ZeroLengthAndSeparateFin_DeliverFinalSize()
    {
        var pump = new StreamPump(new QuicStreamOptions(), new QuicStreamOptions());
        var client = new StreamApp(pump.Client) { FinishSends = false };
        var server = new StreamApp(pump.Server);
        Assert.True(pump.Client.TryOpenStream(bidirectional: false, out ulong empty));
        Assert.True(pump.Client.TryOpenStream(bidirectional: false, out ulong late));
        Assert.Equal(0, pump.Client.Write(empty, [], fin: true));
        Assert.Equal(5, pump.Client.Write(late, "hello"u8, fin: false));
        RunUntil(pump, client, server, () => server.Received.TryGetValue(late, out List<byte>? r) && r.Count == 5);
        Assert.Contains(empty, server.ReadFinished);
        Assert.Empty(server.Received[empty]);
        Assert.DoesNotContain(late, server.ReadFinished);

        // RFC 9000 §4.5: a FIN in a later, empty STREAM frame sets the final size at the current offset.
        Assert.True(pump.Server.TryGetReceiveState(late, out ReceiveStreamState state));
        Assert.Equal(ReceiveStreamState.Recv, state);
        Assert.Equal(0, pump.Client.Write(late, [], fin: true));
        RunUntil(pump, client, server, () => server.ReadFinished.Contains(late));
        StreamApp.AssertBytes("hello"u8.ToArray(), server.Received[late]);
        RunUntilReleased(pump, client, server);
        Assert.Throws<InvalidOperationException>(() => pump.Client.Write(999_996, [1], fin: false));
    }
}
