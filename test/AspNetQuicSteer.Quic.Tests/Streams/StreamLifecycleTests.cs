using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Streams;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Tests.Streams;

/// <summary>Stream limits, resets, STOP_SENDING and release, end to end between two managers.</summary>
public sealed class StreamLifecycleTests
{
    [Fact]
    public void ThousandConcurrentStreams_AllCompleteAndAreReleased()
    {
        var options = new QuicStreamOptions { MaxConcurrentBidiStreams = 1000, InitialConnectionReceiveWindow = 4 * 1024 * 1024 };
        var pump = new StreamPump(options, options, seed: 7) { LossRate = 0.02, Reorder = true, MaxPacketsPerStep = 400 };
        var client = new StreamApp(pump.Client);
        var server = new StreamApp(pump.Server) { Respond = id => StreamApp.Payload(id, 300, salt: 2) };
        for (int i = 0; i < 1000; i++)
        {
            Assert.True(client.TryOpen(bidirectional: true, StreamApp.Payload((ulong)i, 200 + (i % 50)), out _));
        }

        // RFC 9000 §4.6: the 1001st exceeds the peer's limit of 1000.
        Assert.False(pump.Client.TryOpenStream(bidirectional: true, out _));
        Assert.Equal(1000, pump.Client.StreamCount);

        StreamTransferTests.RunUntil(pump, client, server, () => client.ReadFinished.Count == 1000 && server.ReadFinished.Count == 1000);
        Assert.Equal(1000, pump.Server.StreamCount + server.CountEvents(QuicStreamEventKind.Released));
        foreach ((ulong id, (byte[] data, _, _)) in client.Sends)
        {
            StreamApp.AssertBytes(data, server.Received[id]);
            StreamApp.AssertBytes(StreamApp.Payload(id, 300, salt: 2), client.Received[id]);
        }

        StreamTransferTests.RunUntilReleased(pump, client, server);
        Assert.Equal(0UL, pump.ServerCredit.Violations);
        Assert.Equal(0UL, pump.ClientCredit.Violations);

        // RFC 9000 §4.6: the server kept the client's credit at 1000 concurrent streams as they closed.
        Assert.Equal(2000UL, pump.Server.GetLocalMaxStreams(bidirectional: true));
        Assert.True(pump.Client.GetAvailableStreamCount(bidirectional: true) > 0);
    }

    [Fact]
    public void MaxStreams_RaisedAsPeerStreamsComplete_StreamsBlockedWhenRefused()
    {
        var serverOptions = new QuicStreamOptions { MaxConcurrentBidiStreams = 10, MaxConcurrentUniStreams = 5 };
        var pump = new StreamPump(new QuicStreamOptions(), serverOptions, seed: 3) { LossRate = 0.05, Reorder = true };
        var client = new StreamApp(pump.Client);
        var server = new StreamApp(pump.Server) { Respond = id => StreamApp.Payload(id, 500, salt: 3) };
        int bidiOpened = 0, uniOpened = 0, refused = 0, maxServerStreams = 0;

        bool OpenMoreAndCheck()
        {
            while (bidiOpened < 60)
            {
                if (!client.TryOpen(bidirectional: true, StreamApp.Payload((ulong)bidiOpened, 700), out _))
                {
                    refused++;
                    break;
                }

                bidiOpened++;
            }

            while (uniOpened < 20)
            {
                if (!client.TryOpen(bidirectional: false, StreamApp.Payload((ulong)(1000 + uniOpened), 700), out _))
                {
                    refused++;
                    break;
                }

                uniOpened++;
            }

            maxServerStreams = Math.Max(maxServerStreams, pump.Server.StreamCount);
            return server.ReadFinished.Count == 80 && client.ReadFinished.Count == 60;
        }

        StreamTransferTests.RunUntil(pump, client, server, OpenMoreAndCheck);
        StreamTransferTests.RunUntilReleased(pump, client, server);

        // RFC 9000 §4.6: never more peer streams than we allowed concurrently ...
        Assert.True(maxServerStreams <= 15, $"{maxServerStreams} server streams");

        // ... MAX_STREAMS raised the limit as they completed, STREAMS_BLOCKED told us when the client was refused (§19.14).
        Assert.Equal(70UL, pump.Server.GetLocalMaxStreams(bidirectional: true));
        Assert.Equal(25UL, pump.Server.GetLocalMaxStreams(bidirectional: false));
        Assert.True(pump.FramesSentByKind[SentFrameKind.MaxStreamsBidi] > 0);
        Assert.True(pump.FramesSentByKind[SentFrameKind.MaxStreamsUni] > 0);
        Assert.True(pump.ClientFramesSent[SentFrameKind.StreamsBlockedBidi] > 0);
        Assert.True(pump.ClientFramesSent[SentFrameKind.StreamsBlockedUni] > 0);
        Assert.True(refused > 0);
        Assert.True(client.CountEvents(QuicStreamEventKind.StreamsAvailable) > 0);
        Assert.Equal(0UL, pump.ServerCredit.Violations);
    }

    [Fact]
    public void ResetStream_PeerSeesErrorCode_CreditIsReturned_BothSidesRelease()
    {
        // A fixed 64 KiB connection window: the second transfer only fits if the reset stream's bytes came back.
        var serverOptions = new QuicStreamOptions { InitialConnectionReceiveWindow = 64 * 1024, MaxConnectionReceiveWindow = 64 * 1024 };
        var pump = new StreamPump(new QuicStreamOptions(), serverOptions, seed: 5) { LossRate = 0.3, Reorder = true, LogFrames = true };
        var client = new StreamApp(pump.Client);
        var server = new StreamApp(pump.Server);
        Assert.True(client.TryOpen(bidirectional: false, StreamApp.Payload(1, 50_000), out ulong id));
        client.FinishSends = false;
        for (int i = 0; i < 3; i++)
        {
            client.Run();
            pump.Step();
        }

        // RFC 9000 §3.1: the app resets; RESET_STREAM carries the code and the final size (§19.4).
        pump.Client.ResetStream(id, 42);
        Assert.True(pump.Client.TryGetSendState(id, out SendStreamState state));
        Assert.Equal(SendStreamState.ResetSent, state);
        Assert.Equal(0, pump.Client.Write(id, [1, 2, 3], fin: false));
        StreamTransferTests.RunUntilReleased(pump, client, server);

        // RFC 9000 §3.2: the peer surfaces the error code to its app.
        Assert.Equal(42UL, server.PeerResets[id]);
        Assert.Contains(server.Events, e => e.Kind == QuicStreamEventKind.PeerReset && e.StreamId == id && e.ErrorCode == 42);
        Assert.Contains(pump.SentLog, f => f.FromClient && f.Frame.Kind == SentFrameKind.ResetStream && f.Frame.StreamId == id && f.Frame.Value == 42);

        client.FinishSends = true;
        Assert.True(client.TryOpen(bidirectional: false, StreamApp.Payload(2, 60_000), out ulong second));
        StreamTransferTests.RunUntil(pump, client, server, () => server.ReadFinished.Contains(second));
        StreamApp.AssertBytes(StreamApp.Payload(2, 60_000), server.Received[second]);
        Assert.Equal(0UL, pump.ServerCredit.Violations);
    }

    [Fact]
    public void StopSending_PeerResetsWithTheSameCode_AndTellsItsApp()
    {
        var serverOptions = new QuicStreamOptions { InitialStreamReceiveWindow = 8192 };
        var pump = new StreamPump(new QuicStreamOptions(), serverOptions, seed: 9) { LossRate = 0.2, Reorder = true, LogFrames = true };
        var client = new StreamApp(pump.Client);
        var server = new StreamApp(pump.Server);
        Assert.True(client.TryOpen(bidirectional: false, StreamApp.Payload(1, 200_000), out ulong id));
        StreamTransferTests.RunUntil(pump, client, server, () => server.Received.TryGetValue(id, out List<byte>? got) && got.Count > 0);

        // RFC 9000 §3.5: the receiving app abandons the stream with STOP_SENDING ...
        pump.Server.StopSending(id, 7);
        Assert.Equal(0UL, pump.Server.GetReadableBytes(id));
        StreamTransferTests.RunUntilReleased(pump, client, server);

        // ... the sender answers with RESET_STREAM carrying the same code and tells its app.
        Assert.Contains(client.Events, e => e.Kind == QuicStreamEventKind.PeerStopSending && e.StreamId == id && e.ErrorCode == 7);
        Assert.Contains(pump.SentLog, f => !f.FromClient && f.Frame.Kind == SentFrameKind.StopSending && f.Frame.StreamId == id && f.Frame.Value == 7);
        Assert.Contains(pump.SentLog, f => f.FromClient && f.Frame.Kind == SentFrameKind.ResetStream && f.Frame.StreamId == id && f.Frame.Value == 7);
        Assert.DoesNotContain(server.Events, e => e.Kind == QuicStreamEventKind.PeerReset);
        Assert.True(pump.Client.SentData < 200_000);
        Assert.Equal(0UL, pump.ServerCredit.Violations);
    }

    [Fact]
    public void BidiStream_StopSendingOneDirection_OtherDirectionStillDelivers()
    {
        var pump = new StreamPump(new QuicStreamOptions(), new QuicStreamOptions { InitialStreamReceiveWindow = 4096 }, seed: 11);
        var client = new StreamApp(pump.Client);
        var server = new StreamApp(pump.Server) { Respond = id => StreamApp.Payload(id, 30_000, salt: 4) };
        Assert.True(client.TryOpen(bidirectional: true, StreamApp.Payload(9, 100_000), out ulong id));
        StreamTransferTests.RunUntil(pump, client, server, () => server.Received.TryGetValue(id, out List<byte>? got) && got.Count > 0);
        pump.Server.StopSending(id, 3);
        StreamTransferTests.RunUntil(pump, client, server, () => client.ReadFinished.Contains(id));
        StreamApp.AssertBytes(StreamApp.Payload(id, 30_000, salt: 4), client.Received[id]);
        StreamTransferTests.RunUntilReleased(pump, client, server);
        Assert.Contains(client.Events, e => e.Kind == QuicStreamEventKind.PeerStopSending && e.ErrorCode == 3);
    }

    [Fact]
    public void CompletedStreams_AreReleased_SoTensOfThousandsDoNotGrowState()
    {
        var options = new QuicStreamOptions { MaxConcurrentBidiStreams = 50, MaxConcurrentUniStreams = 50 };
        var pump = new StreamPump(options, options, seed: 13) { MaxPacketsPerStep = 400 };
        var client = new StreamApp(pump.Client);
        var server = new StreamApp(pump.Server) { Respond = _ => [1, 2, 3] };
        int opened = 0;
        int maxHeld = 0;
        StreamTransferTests.RunUntil(
            pump,
            client,
            server,
            () =>
            {
                while (opened < 20_000 && client.TryOpen(bidirectional: opened % 2 == 0, [(byte)opened, 1, 2], out ulong id))
                {
                    opened++;
                }

                // The apps forget finished streams, as a real app would.
                foreach (ulong done in server.ReadFinished)
                {
                    server.Received.Remove(done);
                    server.Sends.Remove(done);
                }

                foreach (ulong done in client.ReadFinished)
                {
                    client.Received.Remove(done);
                }

                foreach (ulong sent in client.Sends.Where(s => s.Value.Fin && StreamId.IsUnidirectional(s.Key)).Select(s => s.Key).ToArray())
                {
                    client.Sends.Remove(sent);
                }

                client.Events.Clear();
                server.Events.Clear();
                maxHeld = Math.Max(maxHeld, Math.Max(pump.Client.StreamCount, pump.Server.StreamCount));
                return opened == 20_000 && pump.Client.StreamCount == 0 && pump.Server.StreamCount == 0 && pump.InFlight == 0;
            },
            maxSteps: 10_000);

        // Held state is bounded by the concurrency limits, not by the 20,000 streams of the connection's life.
        Assert.True(maxHeld <= 100, $"held {maxHeld}");
        Assert.Equal(10_000UL + 50, pump.Server.GetLocalMaxStreams(bidirectional: true));
    }
}
