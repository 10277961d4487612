namespace AspNetQuicSteer.Quic.Streams;

/// <summary>What happened to a stream, as polled by the connection from <see cref="QuicStreamManager.TryDequeueEvent"/>.</summary>
internal enum QuicStreamEventKind : byte
{
    /// <summary>The peer opened a stream; take it with <see cref="QuicStreamManager.TryAcceptStream"/>.</summary>
    PeerOpened,

    /// <summary>Data (or the FIN) became readable. Raised again only after a Read drained the stream.</summary>
    Readable,

    /// <summary>A write was refused for lack of buffer space and space is now free.</summary>
    Writable,

    /// <summary>The peer reset its sending part (RESET_STREAM, RFC 9000 §3.2); ErrorCode is the peer's code.</summary>
    PeerReset,

    /// <summary>The peer asked us to stop sending (STOP_SENDING, RFC 9000 §3.5); our sending part was reset with ErrorCode.</summary>
    PeerStopSending,

    /// <summary>Everything written, including the FIN, was acknowledged (Data Recvd, RFC 9000 §3.1).</summary>
    SendCompleted,

    /// <summary>MAX_STREAMS raised the number of streams we may open; Bidirectional tells which type.</summary>
    StreamsAvailable,

    /// <summary>Both parts reached a terminal state and the stream's state was freed; the ID is no longer usable.</summary>
    Released,
}

/// <summary>One stream event; <see cref="ErrorCode"/> is meaningful for the reset/stop kinds only.</summary>
internal readonly record struct QuicStreamEvent(QuicStreamEventKind Kind, ulong StreamId, ulong ErrorCode = 0, bool Bidirectional = false);
