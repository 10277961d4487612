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

        using var download = new Download(pair, size, seed);
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

    /// <summary>The client asks for <c>size</c> bytes on one stream; the server writes them under backpressure.</summary>
    private sealed class Download : IDisposable
    {
        private readonly HandshakePair _pair;
        private readonly byte[] _body;
        private readonly MemoryStream _received = new();
        private readonly byte[] _scratch = new byte[256 * 1024];
        private ulong _clientStream;
        private ulong? _serverStream;
        private int _sent;
        private bool _finSent;

        public Download(HandshakePair pair, int size, int seed)
        {
            _pair = pair;
            _body = new byte[size];
            new Random(seed).NextBytes(_body);
            Assert.True(pair.Client.TryOpenStream(bidirectional: true, out _clientStream));
            pair.Client.WriteStream(_clientStream, "GET /\r\n"u8, fin: true);
            pair.Network.BeforeStep = Step;
        }

        public bool Complete { get; private set; }

        public void Dispose() => _received.Dispose();

        public void AssertExactBytes() => Assert.True(_received.ToArray().AsSpan().SequenceEqual(_body), "Downloaded bytes differ.");

        public string Describe()
            => $"received {_received.Length}/{_body.Length}, sent {_sent}, t={_pair.Network.Now}, client lost={_pair.Client.Stats.PacketsLost} server lost={_pair.ServerConnection!.Stats.PacketsLost} ptos={_pair.ServerConnection.Stats.ProbeTimeouts}";

        private void Step()
        {
            QuicConnection server = _pair.ServerConnection!;
            if (_serverStream is null && server.TryAcceptStream(out ulong sid)) _serverStream = sid;
            if (_serverStream is { } id && !_finSent)
            {
                while (_sent < _body.Length)
                {
                    int n = server.WriteStream(id, _body.AsSpan(_sent, Math.Min(64 * 1024, _body.Length - _sent)), fin: false);
                    if (n == 0) break;
                    _sent += n;
                }

                if (_sent == _body.Length)
                {
                    server.WriteStream(id, default, fin: true);
                    _finSent = true;
                }

                server.ReadStream(id, _scratch, out _);
            }

            while (true)
            {
                int n = _pair.Client.ReadStream(_clientStream, _scratch, out bool fin);
                _received.Write(_scratch, 0, n);
                if (fin) Complete = true;
                if (n == 0) break;
            }

            while (_pair.Client.TryPollStreamEvent(out _)) { }
            while (server.TryPollStreamEvent(out _)) { }
        }
    }
}
