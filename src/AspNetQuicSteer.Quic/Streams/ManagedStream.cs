using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Streams;

/// <summary>
/// One live stream of a <see cref="QuicStreamManager"/>: its sending and/or receiving part (RFC 9000 §2)
/// and its membership in the manager's scheduling queues. Allocated when the stream opens and dropped
/// when both parts are done.
/// </summary>
internal sealed class ManagedStream
{
    public ManagedStream(ulong id, bool isLocal, StreamSendSide? send, StreamReceiveSide? receive)
    {
        Id = id;
        IsLocal = isLocal;
        Send = send;
        Receive = receive;
        Accepted = isLocal;
    }

    public ulong Id { get; }

    public bool IsLocal { get; }

    public bool IsBidirectional => StreamId.IsBidirectional(Id);

    /// <summary>Null for a receive-only stream (peer-initiated unidirectional).</summary>
    public StreamSendSide? Send { get; }

    /// <summary>Null for a send-only stream (locally initiated unidirectional).</summary>
    public StreamReceiveSide? Receive { get; }

    /// <summary>The app took the stream (always true for streams we opened).</summary>
    public bool Accepted { get; set; }

    public bool Released { get; set; }

    public bool InSendQueue { get; set; }

    public bool InRetransmitQueue { get; set; }

    public bool InControlQueue { get; set; }

    /// <summary>Both parts are terminal (RFC 9000 §3.1/§3.2) and the app has seen the stream: its state can go.</summary>
    public bool IsComplete
        => Accepted
            && (Send is null || Send.IsTerminal)
            && (Receive is null || Receive.IsTerminal);

    public bool HasPendingControl
        => (Send is not null && (Send.ResetPending || Send.StreamDataBlockedPending))
            || (Receive is not null && (Receive.MaxStreamDataPending || Receive.StopSendingPending));
}
