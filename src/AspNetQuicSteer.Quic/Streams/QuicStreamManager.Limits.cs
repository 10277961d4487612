using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Streams;

/// <summary>Stream IDs and stream-count limits, RFC 9000 §2.1, §3.2 and §4.6.</summary>
internal sealed partial class QuicStreamManager
{
    /// <summary>How many more streams of a type the peer currently lets us open.</summary>
    public ulong GetAvailableStreamCount(bool bidirectional)
    {
        ref StreamTypeLimits limits = ref GetLimits(bidirectional);
        return limits.PeerMaxStreams - Math.Min(limits.PeerMaxStreams, limits.LocalOpened);
    }

    /// <summary>The limit we currently give the peer for a stream type (initial_max_streams_* or our MAX_STREAMS).</summary>
    public ulong GetLocalMaxStreams(bool bidirectional) => GetLimits(bidirectional).LocalMaxStreams;

    /// <summary>
    /// Opens a stream of ours. False when the peer's limit forbids it (RFC 9000 §4.6); then STREAMS_BLOCKED
    /// is queued once for that limit (§19.14) and a StreamsAvailable event follows when MAX_STREAMS raises it.
    /// </summary>
    public bool TryOpenStream(bool bidirectional, out ulong streamId)
    {
        ref StreamTypeLimits limits = ref GetLimits(bidirectional);
        if (limits.LocalOpened >= limits.PeerMaxStreams)
        {
            limits.OpenRefused = true;
            if (limits.StreamsBlockedLimit != limits.PeerMaxStreams)
            {
                limits.StreamsBlockedLimit = limits.PeerMaxStreams;
                limits.StreamsBlockedPending = true;
            }

            streamId = 0;
            return false;
        }

        // RFC 9000 §2.1: IDs of a type are used in order; the low bits say initiator and direction.
        streamId = StreamId.FromIndex(limits.LocalOpened, _isServer, unidirectional: !bidirectional);
        limits.LocalOpened++;
        var send = new StreamSendSide(GetPeerInitialMaxStreamData(streamId));
        StreamReceiveSide? receive = bidirectional ? new StreamReceiveSide(_initialStreamWindow) : null;
        _streams.Add(streamId, new ManagedStream(streamId, isLocal: true, send, receive));
        return true;
    }

    /// <summary>Takes the next stream the peer opened (in ID order per type, RFC 9000 §3.2).</summary>
    public bool TryAcceptStream(out ulong streamId)
    {
        while (_acceptQueue.TryDequeue(out streamId))
        {
            if (_streams.TryGetValue(streamId, out ManagedStream? stream))
            {
                stream.Accepted = true;
                ReleaseIfComplete(stream);
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The stream a received frame refers to. Frames on a peer stream not yet opened open it and every
    /// lower-numbered stream of its type (RFC 9000 §3.2). Null for a stream already released: a late or
    /// duplicate frame, which is ignored.
    /// </summary>
    private ManagedStream? GetStreamForFrame(ulong streamId, ulong frameType)
    {
        if (_streams.TryGetValue(streamId, out ManagedStream? existing))
        {
            return existing;
        }

        bool bidirectional = StreamId.IsBidirectional(streamId);
        ref StreamTypeLimits limits = ref GetLimits(bidirectional);
        ulong index = StreamId.GetIndex(streamId);
        if (StreamId.IsLocallyInitiated(streamId, _isServer))
        {
            // RFC 9000 §19.8, §19.5, §19.10, §19.13: a frame for a locally initiated stream that has not
            // been created yet is a STREAM_STATE_ERROR.
            if (index >= limits.LocalOpened)
            {
                throw new QuicProtocolException(TransportErrorCode.StreamStateError, $"Frame for stream {streamId}, which we have not opened.", frameType);
            }

            return null;
        }

        if (index < limits.PeerOpened)
        {
            return null;
        }

        // RFC 9000 §4.6: a stream ID beyond the limit we sent is a STREAM_LIMIT_ERROR.
        if (index >= limits.LocalMaxStreams)
        {
            throw new QuicProtocolException(TransportErrorCode.StreamLimitError, $"Peer opened stream {streamId} beyond its limit of {limits.LocalMaxStreams}.", frameType);
        }

        ManagedStream? opened = null;
        for (ulong i = limits.PeerOpened; i <= index; i++)
        {
            ulong id = StreamId.FromIndex(i, !_isServer, unidirectional: !bidirectional);
            StreamSendSide? send = bidirectional ? new StreamSendSide(GetPeerInitialMaxStreamData(id)) : null;
            opened = new ManagedStream(id, isLocal: false, send, new StreamReceiveSide(_initialStreamWindow));
            _streams.Add(id, opened);
            _acceptQueue.Enqueue(id);
            Raise(QuicStreamEventKind.PeerOpened, id);
        }

        limits.PeerOpened = index + 1;
        return opened;
    }

    /// <summary>
    /// A peer stream was released: keep the peer's credit roughly constant by raising our limit so that
    /// the configured number of streams may be open again (RFC 9000 §4.6, MAX_STREAMS §19.11).
    /// </summary>
    private void OnPeerStreamClosed(bool bidirectional)
    {
        ref StreamTypeLimits limits = ref GetLimits(bidirectional);
        limits.PeerClosed++;
        ulong concurrency = bidirectional ? _options.MaxConcurrentBidiStreams : _options.MaxConcurrentUniStreams;
        ulong target = Math.Min(limits.PeerClosed + concurrency, StreamId.MaxStreamCount);
        if (target > limits.LocalMaxStreams)
        {
            limits.LocalMaxStreams = target;
            limits.MaxStreamsPending = true;
        }
    }

    /// <summary>The peer's stream limit for us rose (transport parameter or MAX_STREAMS, RFC 9000 §4.6); smaller values are ignored.</summary>
    private void RaisePeerMaxStreams(bool bidirectional, ulong value)
    {
        ref StreamTypeLimits limits = ref GetLimits(bidirectional);
        if (value <= limits.PeerMaxStreams)
        {
            return;
        }

        limits.PeerMaxStreams = value;
        limits.StreamsBlockedPending = false;
        if (limits.OpenRefused)
        {
            limits.OpenRefused = false;
            _events.Enqueue(new QuicStreamEvent(QuicStreamEventKind.StreamsAvailable, 0, 0, bidirectional));
        }
    }
}
