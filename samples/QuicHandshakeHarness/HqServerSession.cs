using System.Text;
using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Streams;

namespace QuicHandshakeHarness;

/// <summary>
/// hq-interop (HTTP/0.9 over QUIC, ALPN "hq-interop") on one server connection: each client bidirectional stream
/// carries "GET /path\r\n" and FIN; the response is the file's bytes and FIN. Files come from a www directory; a
/// missing file resets the stream. Driven by the connection's stream events, with backpressure from Write.
/// </summary>
internal sealed class HqServerSession(QuicConnection connection, string wwwRoot)
{
    /// <summary>HTTP/0.9 request lines are short; anything longer is a malformed request.</summary>
    private const int MaxRequestLength = 4096;

    /// <summary>Application error codes used by the interop runner's servers for bad and missing requests.</summary>
    private const ulong BadRequestError = 0x190;
    private const ulong NotFoundError = 0x194;

    private readonly Dictionary<ulong, StreamState> _streams = [];
    private readonly byte[] _buffer = new byte[64 * 1024];

    public long BytesServed { get; private set; }

    public int RequestsServed { get; private set; }

    /// <summary>Reacts to stream events; call after every datagram and timeout.</summary>
    public void Pump()
    {
        while (connection.TryAcceptStream(out ulong id))
        {
            _streams[id] = new StreamState();
        }

        while (connection.TryPollStreamEvent(out QuicStreamEvent e))
        {
            if (e.Kind == QuicStreamEventKind.PeerOpened && !_streams.ContainsKey(e.StreamId)) _streams[e.StreamId] = new StreamState();
            if (e.Kind is QuicStreamEventKind.PeerReset or QuicStreamEventKind.PeerStopSending or QuicStreamEventKind.Released)
            {
                if (_streams.Remove(e.StreamId, out StreamState? gone)) gone.File?.Dispose();
            }
        }

        foreach ((ulong id, StreamState state) in _streams)
        {
            if (state.File is null) ReadRequest(id, state);
            if (state.File is not null) SendResponse(id, state);
        }
    }

    private void ReadRequest(ulong id, StreamState state)
    {
        while (true)
        {
            int read = connection.ReadStream(id, _buffer, out bool fin);
            state.Request.Write(_buffer, 0, read);
            if (state.Request.Length > MaxRequestLength)
            {
                connection.ResetStream(id, BadRequestError);
                state.Done = true;
                return;
            }

            if (fin) break;
            if (read == 0) return;
        }

        string line = Encoding.ASCII.GetString(state.Request.ToArray()).TrimEnd('\r', '\n', ' ');
        if (!line.StartsWith("GET /", StringComparison.Ordinal))
        {
            connection.ResetStream(id, BadRequestError);
            state.Done = true;
            return;
        }

        string relative = Uri.UnescapeDataString(line[5..]);
        string root = Path.GetFullPath(wwwRoot);
        string path = Path.GetFullPath(Path.Combine(root, relative));
        if (!path.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal) || !File.Exists(path))
        {
            connection.ResetStream(id, NotFoundError);
            state.Done = true;
            return;
        }

        state.File = File.OpenRead(path);
        RequestsServed++;
    }

    private void SendResponse(ulong id, StreamState state)
    {
        if (state.Done) return;
        FileStream file = state.File!;
        while (true)
        {
            if (state.PendingLength == 0)
            {
                state.PendingLength = file.Read(state.Pending);
                state.PendingOffset = 0;
                if (state.PendingLength == 0)
                {
                    connection.WriteStream(id, default, fin: true);
                    state.Done = true;
                    file.Dispose();
                    return;
                }
            }

            int accepted = connection.WriteStream(id, state.Pending.AsSpan(state.PendingOffset, state.PendingLength), fin: false);
            BytesServed += accepted;
            state.PendingOffset += accepted;
            state.PendingLength -= accepted;
            if (state.PendingLength > 0) return; // Backpressure: wait for a Writable event.
        }
    }

    private sealed class StreamState
    {
        public MemoryStream Request { get; } = new();

        public FileStream? File { get; set; }

        public byte[] Pending { get; } = new byte[32 * 1024];

        public int PendingOffset { get; set; }

        public int PendingLength { get; set; }

        public bool Done { get; set; }
    }
}
