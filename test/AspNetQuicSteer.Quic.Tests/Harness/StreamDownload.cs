using AspNetQuicSteer.Quic.Connection;

namespace AspNetQuicSteer.Quic.Tests.Harness;

/// <summary>The client asks for <c>size</c> bytes on one stream; the server writes them under backpressure.</summary>
internal sealed class StreamDownload : IDisposable
{
    private readonly HandshakePair _pair;
    private readonly byte[] _body;
    private readonly MemoryStream _received = new();
    private readonly byte[] _scratch = new byte[256 * 1024];
    private ulong _clientStream;
    private ulong? _serverStream;
    private int _sent;
    private bool _finSent;

    public StreamDownload(HandshakePair pair, int size, int seed)
    {
        _pair = pair;
        _body = new byte[size];
        new Random(seed).NextBytes(_body);
        Assert.True(pair.Client.TryOpenStream(bidirectional: true, out _clientStream));
        pair.Client.WriteStream(_clientStream, "GET /\r\n"u8, fin: true);
        pair.Network.BeforeStep = Step;
    }

    public bool Complete { get; private set; }

    public long Received => _received.Length;

    /// <summary>Called with the bytes received so far after each step (e.g. to trigger a key update mid-transfer).</summary>
    public Action<long>? OnProgress { get; set; }

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

        OnProgress?.Invoke(_received.Length);
        while (_pair.Client.TryPollStreamEvent(out _)) { }
        while (server.TryPollStreamEvent(out _)) { }
    }
}
