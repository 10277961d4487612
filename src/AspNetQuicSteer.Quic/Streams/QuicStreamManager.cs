using AspNetQuicSteer.Quic.TransportParameters;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Streams;

/// <summary>
/// All streams of one QUIC connection and their flow control (RFC 9000 §2-§4), sans-IO. The connection
/// feeds it received stream frames, asks it to fill 1-RTT/0-RTT packets with stream and flow-control
/// frames, and reports which of those frames were acknowledged or lost; the app side writes, reads,
/// opens, accepts, resets and polls events. Nothing here calls out to user code.
/// Split by concern: limits (stream IDs, §4.6), frames in, frames out, recovery (ack/loss), flow
/// control (§4.1, window auto-tuning), app API.
/// </summary>
internal sealed partial class QuicStreamManager
{
    private const ulong NoLimit = ulong.MaxValue;

    private readonly bool _isServer;
    private readonly QuicStreamOptions _options;
    private readonly ulong _initialStreamWindow;
    private readonly ulong _initialConnectionWindow;
    private readonly ulong _initialMaxStreamsBidi;
    private readonly ulong _initialMaxStreamsUni;
    private readonly Dictionary<ulong, ManagedStream> _streams = [];
    private readonly Queue<QuicStreamEvent> _events = new();
    private readonly Queue<ulong> _acceptQueue = new();

    // Scheduling: streams with pending control frames, lost data, and new data (round-robin).
    private readonly Queue<ManagedStream> _controlQueue = new();
    private readonly Queue<ManagedStream> _retransmitQueue = new();
    private readonly Queue<ManagedStream> _sendQueue = new();
    private readonly Queue<ManagedStream> _connectionBlockedQueue = new();

    private StreamTypeLimits _bidi;
    private StreamTypeLimits _uni;

    // Sending: the peer's connection-level credit (RFC 9000 §4.1) and our use of it.
    private ulong _peerMaxData;
    private ulong _sentData;
    private ulong _dataBlockedLimit = NoLimit;
    private bool _dataBlockedPending;

    // The peer's initial per-stream credit for the streams we send on (RFC 9000 §18.2).
    private ulong _peerInitialMaxStreamDataBidiLocal;
    private ulong _peerInitialMaxStreamDataBidiRemote;
    private ulong _peerInitialMaxStreamDataUni;

    // Receiving: the connection-level credit we give (RFC 9000 §4.1).
    private ulong _localMaxData;
    private ulong _receivedData;
    private ulong _consumedData;
    private ulong _connectionWindow;
    private TimeSpan _lastMaxDataUpdate = TimeSpan.MinValue;
    private bool _maxDataPending;

    public QuicStreamManager(bool isServer, QuicStreamOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _isServer = isServer;
        _options = options;
        _initialStreamWindow = options.InitialStreamReceiveWindow;
        _initialConnectionWindow = options.InitialConnectionReceiveWindow;
        _initialMaxStreamsBidi = options.MaxConcurrentBidiStreams;
        _initialMaxStreamsUni = options.MaxConcurrentUniStreams;
        _connectionWindow = _initialConnectionWindow;
        _localMaxData = _initialConnectionWindow;
        _bidi.LocalMaxStreams = options.MaxConcurrentBidiStreams;
        _uni.LocalMaxStreams = options.MaxConcurrentUniStreams;
        _bidi.StreamsBlockedLimit = NoLimit;
        _uni.StreamsBlockedLimit = NoLimit;
    }

    public bool IsServer => _isServer;

    public QuicStreamOptions Options => _options;

    /// <summary>Streams whose state is held (opened and not yet released).</summary>
    public int StreamCount => _streams.Count;

    /// <summary>True while a locally opened bidirectional stream has not received all of the peer's data (a request awaiting its response).</summary>
    public bool IsAwaitingPeerData
    {
        get
        {
            foreach (ManagedStream stream in _streams.Values)
            {
                if (stream.IsLocal && stream.IsBidirectional && stream.Receive is { State: ReceiveStreamState.Recv or ReceiveStreamState.SizeKnown }) return true;
            }

            return false;
        }
    }

    /// <summary>True while some stream that is not reset has bytes or a FIN written and not yet acknowledged.</summary>
    public bool HasUnacknowledgedData
    {
        get
        {
            foreach (ManagedStream stream in _streams.Values)
            {
                if (stream.Send is { IsReset: false } send && (send.Buffered > 0 || (send.FinWritten && !send.FinAcked))) return true;
            }

            return false;
        }
    }

    /// <summary>Bytes of new stream data sent on all streams (counted against the peer's MAX_DATA).</summary>
    public ulong SentData => _sentData;

    /// <summary>The peer's connection-level limit on what we send (RFC 9000 §4.1).</summary>
    public ulong PeerMaxData => _peerMaxData;

    /// <summary>The connection-level limit we advertise (RFC 9000 §4.1).</summary>
    public ulong LocalMaxData => _localMaxData;

    /// <summary>Sum of the highest offsets received on every stream (RFC 9000 §4.1).</summary>
    public ulong ReceivedData => _receivedData;

    /// <summary>Current connection-level receive window (auto-tuned).</summary>
    public ulong ConnectionReceiveWindow => _connectionWindow;

    /// <summary>Writes our stream limits into the transport parameters we send (RFC 9000 §18.2).</summary>
    public void FillLocalTransportParameters(QuicTransportParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        parameters.InitialMaxData = _initialConnectionWindow;
        parameters.InitialMaxStreamDataBidiLocal = _initialStreamWindow;
        parameters.InitialMaxStreamDataBidiRemote = _initialStreamWindow;
        parameters.InitialMaxStreamDataUni = _initialStreamWindow;
        parameters.InitialMaxStreamsBidi = _initialMaxStreamsBidi;
        parameters.InitialMaxStreamsUni = _initialMaxStreamsUni;
    }

    /// <summary>
    /// Applies the peer's transport parameters (RFC 9000 §18.2): its connection credit, its initial
    /// per-stream credit and how many streams we may open. Callable again (0-RTT remembered values, then
    /// the handshake's); limits only ever rise, as for MAX_* frames (RFC 9000 §4.1, §4.6, §7.4.1).
    /// </summary>
    public void ApplyPeerTransportParameters(QuicTransportParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _peerMaxData = Math.Max(_peerMaxData, parameters.InitialMaxData);

        // RFC 9000 §18.2: bidi_local applies to streams the peer opens, bidi_remote to those we open.
        _peerInitialMaxStreamDataBidiLocal = Math.Max(_peerInitialMaxStreamDataBidiLocal, parameters.InitialMaxStreamDataBidiLocal);
        _peerInitialMaxStreamDataBidiRemote = Math.Max(_peerInitialMaxStreamDataBidiRemote, parameters.InitialMaxStreamDataBidiRemote);
        _peerInitialMaxStreamDataUni = Math.Max(_peerInitialMaxStreamDataUni, parameters.InitialMaxStreamDataUni);
        foreach (ManagedStream stream in _streams.Values)
        {
            if (stream.Send is not null && stream.Send.RaiseMaxStreamData(GetPeerInitialMaxStreamData(stream.Id)))
            {
                ScheduleSend(stream);
            }
        }

        RaisePeerMaxStreams(bidirectional: true, parameters.InitialMaxStreamsBidi);
        RaisePeerMaxStreams(bidirectional: false, parameters.InitialMaxStreamsUni);
    }

    /// <summary>The highest limit the peer reported being blocked at in STREAMS_BLOCKED (RFC 9000 §19.14, diagnostics).</summary>
    public ulong GetPeerStreamsBlockedLimit(bool bidirectional) => GetLimits(bidirectional).PeerReportedBlockedAt;

    /// <summary>Next stream event (peer opened, readable, writable, reset, stop, completed, released); false when none.</summary>
    public bool TryDequeueEvent(out QuicStreamEvent streamEvent) => _events.TryDequeue(out streamEvent);

    private ulong GetPeerInitialMaxStreamData(ulong streamId)
    {
        if (StreamId.IsUnidirectional(streamId))
        {
            return _peerInitialMaxStreamDataUni;
        }

        return StreamId.IsLocallyInitiated(streamId, _isServer) ? _peerInitialMaxStreamDataBidiRemote : _peerInitialMaxStreamDataBidiLocal;
    }

    private ref StreamTypeLimits GetLimits(bool bidirectional) => ref bidirectional ? ref _bidi : ref _uni;

    private void Raise(QuicStreamEventKind kind, ulong streamId, ulong errorCode = 0)
        => _events.Enqueue(new QuicStreamEvent(kind, streamId, errorCode, StreamId.IsBidirectional(streamId)));

    /// <summary>Frees a stream whose parts are both done (RFC 9000 §3), returning peer stream credit (§4.6).</summary>
    private void ReleaseIfComplete(ManagedStream stream)
    {
        if (stream.Released || !stream.IsComplete)
        {
            return;
        }

        stream.Released = true;
        _streams.Remove(stream.Id);
        stream.Send?.Release();
        stream.Receive?.Release();
        if (!stream.IsLocal)
        {
            OnPeerStreamClosed(stream.IsBidirectional);
        }

        Raise(QuicStreamEventKind.Released, stream.Id);
    }

    /// <summary>Stream-count bookkeeping for one stream type (bidirectional or unidirectional), RFC 9000 §4.6.</summary>
    private struct StreamTypeLimits
    {
        /// <summary>Streams of this type we opened.</summary>
        public ulong LocalOpened;

        /// <summary>How many streams of this type the peer lets us open (transport parameter / MAX_STREAMS).</summary>
        public ulong PeerMaxStreams;

        /// <summary>The limit at which STREAMS_BLOCKED was last queued.</summary>
        public ulong StreamsBlockedLimit;

        public bool StreamsBlockedPending;

        /// <summary>An open was refused; raise StreamsAvailable when the limit rises.</summary>
        public bool OpenRefused;

        /// <summary>Streams of this type the peer opened (highest index + 1).</summary>
        public ulong PeerOpened;

        /// <summary>How many streams of this type we let the peer open.</summary>
        public ulong LocalMaxStreams;

        /// <summary>Peer streams of this type released; the limit is kept at this plus the concurrency option.</summary>
        public ulong PeerClosed;

        public bool MaxStreamsPending;

        /// <summary>The highest limit the peer said it was blocked at (STREAMS_BLOCKED, diagnostics).</summary>
        public ulong PeerReportedBlockedAt;
    }
}
