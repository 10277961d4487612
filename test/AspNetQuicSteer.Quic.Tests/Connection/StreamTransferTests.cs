using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Tests.Harness;

namespace AspNetQuicSteer.Quic.Tests.Connection;

/// <summary>Stream transfers between live connections over the simulated network (issue 3's harness scenarios).</summary>
public sealed class StreamTransferTests
{
    [Theory]
    [InlineData(0.0, 1)]
    [InlineData(0.05, 2)]
    [InlineData(0.10, 3)]
    public void TenMegabytesArriveExactlyThroughLossAndReordering(double lossRate, int seed)
    {
        // RFC 9000 §2.2 / §13.3 / RFC 9002 §6: ordered reassembly and retransmission of only what was lost.
        const int size = 10 * 1024 * 1024;
        using var pair = HandshakePair.Create(new HandshakeSetup
        {
            Link = new LinkOptions { LossRate = lossRate, Jitter = TimeSpan.FromMilliseconds(lossRate > 0 ? 8 : 0), Latency = TimeSpan.FromMilliseconds(10) },
            Seed = seed,
        });
        Assert.True(pair.RunHandshake(TimeSpan.FromSeconds(30)));

        using var download = new StreamDownload(pair, size, seed);
        Assert.True(pair.Network.RunUntil(() => download.Complete, TimeSpan.FromMinutes(10)), download.Describe());
        download.AssertExactBytes();

        QuicConnection server = pair.ServerConnection!;
        if (lossRate > 0)
        {
            Assert.True(server.Stats.PacketsLost > 0, "The link was meant to lose packets.");

            // Retransmissions stay proportionate: far fewer packets declared lost than a blanket resend would give.
            Assert.True(server.Stats.PacketsLost < server.Stats.PacketsSent * lossRate * 3, $"lost {server.Stats.PacketsLost} of {server.Stats.PacketsSent}");
        }
        else
        {
            // RFC 9002 §6.1: on a clean link nothing may be declared lost (a spurious loss means a recovery bug).
            Assert.Equal(0, server.Stats.PacketsLost);
            Assert.Equal(0, pair.Client.Stats.PacketsLost);
        }

        Assert.Equal(QuicConnectionState.Connected, pair.Client.State);
        Assert.Equal(QuicConnectionState.Connected, server.State);
    }

    [Fact]
    public void ManyConcurrentStreamsEachCarryTheirOwnBytes()
    {
        // RFC 9000 §2.1 / §4.6: 1000 client streams (beyond the initial MAX_STREAMS of 100, so limits are raised as
        // streams complete), each echoed back by the server.
        using var pair = HandshakePair.Create();
        Assert.True(pair.RunHandshake());
        QuicConnection client = pair.Client;
        QuicConnection server = pair.ServerConnection!;
        const int streams = 1000;
        var expected = new Dictionary<ulong, byte[]>();
        var received = new Dictionary<ulong, MemoryStream>();
        var serverBuffers = new Dictionary<ulong, MemoryStream>();
        var serverDone = new HashSet<ulong>();
        var clientDone = new HashSet<ulong>();
        int opened = 0, completed = 0;
        byte[] scratch = new byte[65536];

        pair.Network.BeforeStep = () =>
        {
            while (opened < streams && client.TryOpenStream(bidirectional: true, out ulong id))
            {
                byte[] body = new byte[100 + (opened * 37 % 900)];
                new Random(opened).NextBytes(body);
                Assert.Equal(body.Length, client.WriteStream(id, body, fin: true));
                expected[id] = body;
                received[id] = new MemoryStream();
                opened++;
            }

            while (server.TryAcceptStream(out ulong sid)) serverBuffers[sid] = new MemoryStream();
            foreach ((ulong sid, MemoryStream buffer) in serverBuffers)
            {
                if (serverDone.Contains(sid)) continue;
                int n = server.ReadStream(sid, scratch, out bool fin);
                buffer.Write(scratch, 0, n);
                if (fin)
                {
                    Assert.Equal((int)buffer.Length, server.WriteStream(sid, buffer.ToArray(), fin: true));
                    serverDone.Add(sid);
                }
            }

            foreach ((ulong id, MemoryStream buffer) in received)
            {
                if (clientDone.Contains(id)) continue;
                int n = client.ReadStream(id, scratch, out bool fin);
                buffer.Write(scratch, 0, n);
                if (fin)
                {
                    Assert.Equal(expected[id], buffer.ToArray());
                    completed++;
                    clientDone.Add(id);
                }
            }

            while (client.TryPollStreamEvent(out _)) { }
            while (server.TryPollStreamEvent(out _)) { }
        };

        Assert.True(pair.Network.RunUntil(() => completed == streams, TimeSpan.FromMinutes(2)), $"completed {completed}/{streams}, opened {opened}");
        Assert.True(client.StreamCount <= 100, $"Completed streams must be released (open: {client.StreamCount}).");
    }
}
