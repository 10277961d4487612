using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Streams;
using AspNetQuicSteer.Quic.Tests.Harness;

namespace AspNetQuicSteer.Quic.Tests.Connection;

/// <summary>Issue 3's harness scenarios beyond plain transfers: idle timeout, blackout recovery, key update and flow control.</summary>
public sealed class TransportScenarioTests
{
    [Fact]
    public void IdleConnectionsCloseSilentlyAfterTheIdleTimeout()
    {
        // RFC 9000 §10.1: the effective timeout is the smaller of both max_idle_timeout values; nothing is sent.
        using var pair = HandshakePair.Create(new HandshakeSetup
        {
            ClientConnection = () => new QuicConnectionOptions { IdleTimeout = TimeSpan.FromSeconds(5) },
            ServerConnection = () => new QuicConnectionOptions { IdleTimeout = TimeSpan.FromSeconds(20) },
        });
        Assert.True(pair.RunHandshake());
        TimeSpan start = pair.Network.Now;
        long sentBefore = pair.Client.Stats.DatagramsSent + pair.ServerConnection!.Stats.DatagramsSent;

        Assert.True(pair.RunUntilClosed(TimeSpan.FromSeconds(30)));
        TimeSpan elapsed = pair.Network.Now - start;
        Assert.InRange(elapsed, TimeSpan.FromSeconds(4.5), TimeSpan.FromSeconds(6));
        Assert.Equal("Idle timeout.", pair.Client.CloseError!.Reason);
        Assert.Equal("Idle timeout.", pair.ServerConnection.CloseError!.Reason);

        // Only the last ACKs of the handshake may trail; no CONNECTION_CLOSE on idle timeout.
        Assert.True(pair.Client.Stats.DatagramsSent + pair.ServerConnection.Stats.DatagramsSent - sentBefore <= 2);
    }

    [Fact]
    public void TransferRecoversFromATwoSecondBlackoutThroughProbeTimeouts()
    {
        // RFC 9002 §6.2: with every datagram lost for 2 s, PTOs back off and probe; the transfer then completes.
        const int size = 4 * 1024 * 1024;
        using var pair = HandshakePair.Create();
        Assert.True(pair.RunHandshake());
        using var download = new StreamDownload(pair, size, seed: 9);
        TimeSpan? blackoutStart = null;
        download.OnProgress = received =>
        {
            if (blackoutStart is null && received >= size / 3) blackoutStart = pair.Network.Now;
        };
        pair.Network.Filter = d => blackoutStart is { } s && pair.Network.Now >= s && pair.Network.Now < s + TimeSpan.FromSeconds(2) ? [] : [d];

        Assert.True(pair.Network.RunUntil(() => download.Complete, TimeSpan.FromMinutes(2)), download.Describe());
        download.AssertExactBytes();
        Assert.NotNull(blackoutStart);
        Assert.True(pair.ServerConnection!.Stats.ProbeTimeouts >= 2, $"PTOs: {pair.ServerConnection.Stats.ProbeTimeouts}");
        Assert.Equal(QuicConnectionState.Connected, pair.Client.State);
    }

    [Fact]
    public void KeyUpdateInTheMiddleOfATransfer()
    {
        // RFC 9001 §6: the client updates keys while data flows; packets of both phases are in flight around the switch.
        const int size = 6 * 1024 * 1024;
        using var pair = HandshakePair.Create(new HandshakeSetup { Link = new LinkOptions { Jitter = TimeSpan.FromMilliseconds(3) } });
        Assert.True(pair.RunHandshake());
        using var download = new StreamDownload(pair, size, seed: 4);
        int updates = 0;
        download.OnProgress = received =>
        {
            if (received >= (updates + 1) * (size / 4) && pair.Client.InitiateKeyUpdate()) updates++;
        };

        Assert.True(pair.Network.RunUntil(() => download.Complete, TimeSpan.FromMinutes(2)), download.Describe());
        download.AssertExactBytes();
        Assert.True(updates >= 2, $"updates initiated: {updates}");

        // Let the last update reach the server (the client's next packets carry the new phase).
        pair.Client.Ping();
        pair.Network.RunFor(TimeSpan.FromMilliseconds(300));
        Assert.Equal(pair.Client.KeyUpdates, pair.ServerConnection!.KeyUpdates);
        Assert.Equal(pair.Client.KeyPhase, pair.ServerConnection.KeyPhase);
    }

    [Fact]
    public void FlowControlLimitedTransferProgressesAsTheReceiverOpensTheWindow()
    {
        // RFC 9000 §4.1: the client allows only 16 KiB per stream and 64 KiB per connection, without auto-tuning
        // headroom; 1 MiB still arrives, one window at a time.
        const int size = 1024 * 1024;
        using var pair = HandshakePair.Create(new HandshakeSetup
        {
            ClientConnection = () => new QuicConnectionOptions
            {
                Streams = new QuicStreamOptions
                {
                    InitialStreamReceiveWindow = 16 * 1024,
                    MaxStreamReceiveWindow = 16 * 1024,
                    InitialConnectionReceiveWindow = 64 * 1024,
                    MaxConnectionReceiveWindow = 64 * 1024,
                },
            },
        });
        Assert.True(pair.RunHandshake());
        using var download = new StreamDownload(pair, size, seed: 5);

        Assert.True(pair.Network.RunUntil(() => download.Complete, TimeSpan.FromMinutes(2)), download.Describe());
        download.AssertExactBytes();

        // At 16 KiB per round trip of 20 ms, 1 MiB needs at least 64 round trips.
        Assert.True(pair.Network.Now > TimeSpan.FromSeconds(1), $"finished at {pair.Network.Now}: the window did not limit the transfer");
    }
}
