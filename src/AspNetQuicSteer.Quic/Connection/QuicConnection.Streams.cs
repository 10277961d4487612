using AspNetQuicSteer.Quic.Streams;

namespace AspNetQuicSteer.Quic.Connection;

/// <summary>The application's view of streams (RFC 9000 §2–§4); the stream manager does the protocol work.</summary>
internal sealed partial class QuicConnection
{
    /// <summary>Opens a stream; false when the peer's MAX_STREAMS is used up (STREAMS_BLOCKED is then sent).</summary>
    public bool TryOpenStream(bool bidirectional, out ulong streamId)
    {
        if (!IsHandshakeComplete)
        {
            streamId = 0;
            return false;
        }

        return _streams.TryOpenStream(bidirectional, out streamId);
    }

    /// <summary>A stream the peer opened and the application has not accepted yet.</summary>
    public bool TryAcceptStream(out ulong streamId) => _streams.TryAcceptStream(out streamId);

    /// <summary>Queues data (and FIN); returns how much was accepted, less than all under backpressure.</summary>
    public int WriteStream(ulong streamId, ReadOnlySpan<byte> data, bool fin) => _streams.Write(streamId, data, fin);

    /// <summary>Reads in-order data; <paramref name="fin"/> is set once the whole stream has been read.</summary>
    public int ReadStream(ulong streamId, Span<byte> destination, out bool fin) => _streams.Read(streamId, destination, out fin);

    /// <summary>RFC 9000 §19.4: abandons sending with an application error code.</summary>
    public void ResetStream(ulong streamId, ulong errorCode) => _streams.ResetStream(streamId, errorCode);

    /// <summary>RFC 9000 §19.5: asks the peer to stop sending.</summary>
    public void StopSending(ulong streamId, ulong errorCode) => _streams.StopSending(streamId, errorCode);

    public bool TryPollStreamEvent(out QuicStreamEvent streamEvent) => _streams.TryDequeueEvent(out streamEvent);

    public int GetWritableCapacity(ulong streamId) => _streams.GetWritableCapacity(streamId);

    public ulong GetReadableBytes(ulong streamId) => _streams.GetReadableBytes(streamId);

    public bool TryGetPeerResetCode(ulong streamId, out ulong errorCode) => _streams.TryGetPeerResetCode(streamId, out errorCode);

    public int StreamCount => _streams.StreamCount;

    /// <summary>Stream bytes (or a FIN) written but not yet acknowledged, on streams not reset (RFC 9000 §3.1 "Send"/"Data Sent").</summary>
    public bool HasUnacknowledgedStreamData => _streams.HasUnacknowledgedData;
}
