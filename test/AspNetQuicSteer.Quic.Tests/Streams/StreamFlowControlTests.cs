using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Streams;

namespace AspNetQuicSteer.Quic.Tests.Streams;

/// <summary>Flow control (RFC 9000 §4.1, §4.2) between two managers.</summary>
public sealed class StreamFlowControlTests
{
    [Fact]
    public void StreamLimitedTransfer_StallsAtWindow_SendsStreamDataBlockedOncePerLimit_ThenCompletes()
    {
        var serverOptions = new QuicStreamOptions { InitialStreamReceiveWindow = 4096, MaxStreamReceiveWindow = 4096 };
        var pump = new StreamPump(new QuicStreamOptions(), serverOptions);
        var client = new StreamApp(pump.Client);
        var server = new StreamApp(pump.Server);
        byte[] payload = StreamApp.Payload(2, 20_000);
        Assert.True(client.TryOpen(bidirectional: false, payload, out ulong id));

        // The server app does not read: the client stops at the stream window (RFC 9000 §4.1) ...
        for (int i = 0; i < 10; i++)
        {
            client.Run();
            pump.Step();
        }

        Assert.Equal(4096UL, pump.Client.SentData);

        // ... and says so once for that limit (RFC 9000 §4.1, §19.13), not in every packet.
        Assert.Equal(1, pump.ClientFramesSent.GetValueOrDefault(SentFrameKind.StreamDataBlocked));
        Assert.Equal(0, pump.ClientFramesSent.GetValueOrDefault(SentFrameKind.DataBlocked));

        // Reading opens the window (MAX_STREAM_DATA) and the transfer progresses to the end.
        StreamTransferTests.RunUntil(pump, client, server, () => server.ReadFinished.Contains(id));
        StreamApp.AssertBytes(payload, server.Received[id]);
        Assert.True(pump.FramesSentByKind[SentFrameKind.MaxStreamData] >= 4);
        Assert.True(pump.ClientFramesSent[SentFrameKind.StreamDataBlocked] > 1);
        Assert.Equal(0UL, pump.ServerCredit.Violations);
    }

    [Fact]
    public void ConnectionLimitedTransfer_StallsAtMaxData_SendsDataBlockedOncePerLimit_ThenCompletes()
    {
        var serverOptions = new QuicStreamOptions { InitialConnectionReceiveWindow = 4096, MaxConnectionReceiveWindow = 4096 };
        var pump = new StreamPump(new QuicStreamOptions(), serverOptions);
        var client = new StreamApp(pump.Client);
        var server = new StreamApp(pump.Server);
        Assert.True(client.TryOpen(bidirectional: false, StreamApp.Payload(1, 10_000), out ulong first));
        Assert.True(client.TryOpen(bidirectional: false, StreamApp.Payload(2, 10_000), out ulong second));

        for (int i = 0; i < 10; i++)
        {
            client.Run();
            pump.Step();
        }

        // RFC 9000 §4.1: the connection-level limit is shared by all streams.
        Assert.Equal(4096UL, pump.Client.SentData);
        Assert.Equal(1, pump.ClientFramesSent.GetValueOrDefault(SentFrameKind.DataBlocked));

        StreamTransferTests.RunUntil(pump, client, server, () => server.ReadFinished.Count == 2);
        StreamApp.AssertBytes(StreamApp.Payload(1, 10_000), server.Received[first]);
        StreamApp.AssertBytes(StreamApp.Payload(2, 10_000), server.Received[second]);
        Assert.True(pump.FramesSentByKind[SentFrameKind.MaxData] >= 4);
        Assert.True(pump.ClientFramesSent[SentFrameKind.DataBlocked] > 1);
        Assert.Equal(0UL, pump.ServerCredit.Violations);
    }

    private static (int Steps, ulong MaxStreamWindow, ulong ConnectionWindow) TransferWithTuning(ulong maxStreamWindow, int readEvery)
    {
        var serverOptions = new QuicStreamOptions
        {
            InitialStreamReceiveWindow = 16 * 1024,
            MaxStreamReceiveWindow = maxStreamWindow,
            InitialConnectionReceiveWindow = 64 * 1024,
            MaxConnectionReceiveWindow = 4 * 1024 * 1024,
        };
        var pump = new StreamPump(new QuicStreamOptions(), serverOptions) { MaxPacketsPerStep = 2000 };
        var client = new StreamApp(pump.Client);
        var server = new StreamApp(pump.Server);
        byte[] payload = StreamApp.Payload(3, 2 * 1024 * 1024);
        Assert.True(client.TryOpen(bidirectional: false, payload, out ulong id));
        ulong maxWindow = 0;
        for (int step = 0; step < 5000; step++)
        {
            client.Run();
            if (step % readEvery == 0)
            {
                server.Run();
            }

            maxWindow = Math.Max(maxWindow, pump.Server.GetStreamReceiveWindow(id));
            if (server.ReadFinished.Contains(id))
            {
                StreamApp.AssertBytes(payload, server.Received[id]);
                Assert.Equal(0UL, pump.ServerCredit.Violations);
                return (step, maxWindow, pump.Server.ConnectionReceiveWindow);
            }

            pump.Step();
        }

        Assert.Fail("Transfer did not finish.");
        return default;
    }

    [Fact]
    public void AutoTuning_WindowUpdatesWithinTwoRtts_DoubleTheWindowUpToTheMaximum_AndSpeedUpTheTransfer()
    {
        // RFC 9000 §4.2 leaves the window to the receiver: updates needed less than 2 RTTs apart mean the
        // window, not the network, limits the peer, so it doubles (up to MaxStreamReceiveWindow).
        (int tunedSteps, ulong tunedWindow, ulong connectionWindow) = TransferWithTuning(maxStreamWindow: 512 * 1024, readEvery: 1);
        (int fixedSteps, ulong fixedWindow, _) = TransferWithTuning(maxStreamWindow: 16 * 1024, readEvery: 1);

        Assert.Equal(512UL * 1024, tunedWindow);
        Assert.Equal(16UL * 1024, fixedWindow);
        Assert.True(connectionWindow >= 512 * 1024 * 3 / 2, $"connection window {connectionWindow}");
        Assert.True(tunedSteps * 4 < fixedSteps, $"tuned {tunedSteps} steps, fixed {fixedSteps}");
    }

    [Fact]
    public void AutoTuning_UpdatesMoreThanTwoRttsApart_KeepTheWindow()
    {
        // Reading every fifth one-way trip spaces the updates 2.5 RTTs apart: the network, not the window, is the limit.
        (_, ulong window, _) = TransferWithTuning(maxStreamWindow: 512 * 1024, readEvery: 5);
        Assert.Equal(16UL * 1024, window);
    }
}
