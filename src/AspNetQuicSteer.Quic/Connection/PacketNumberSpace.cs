using AspNetQuicSteer.Quic.Crypto;

namespace AspNetQuicSteer.Quic.Connection;

/// <summary>Per packet-number-space state (RFC 9000 §12.3, RFC 9002 §A.2): keys, numbering, ACK state, CRYPTO streams, sent packets.</summary>
internal sealed class PacketNumberSpace : IDisposable
{
    /// <summary>RFC 9000 §13.2.4: the ranges an ACK reports are bounded; older ones are forgotten.</summary>
    public const int MaxAckRanges = 32;

    public PacketNumberSpace(PacketNumberSpaceId id)
    {
        Id = id;
    }

    public PacketNumberSpaceId Id { get; }

    public PacketProtectionKeys? ReadKeys { get; set; }

    public PacketProtectionKeys? WriteKeys { get; set; }

    /// <summary>Keys were discarded (RFC 9001 §4.9); the space accepts and sends nothing more.</summary>
    public bool IsDiscarded { get; private set; }

    public ulong NextPacketNumber { get; set; }

    /// <summary>First packet number sent with the current 1-RTT write keys (RFC 9001 §6.1).</summary>
    public ulong FirstPacketOfWritePhase { get; set; }

    /// <summary>Largest packet number the peer acknowledged, or null before the first ACK (RFC 9002 §A.2).</summary>
    public ulong? LargestAcknowledged { get; set; }

    public RangeSet ReceivedPackets { get; } = new(MaxAckRanges);

    public ulong? LargestReceived { get; set; }

    public TimeSpan LargestReceivedTime { get; set; }

    /// <summary>Ack-eliciting packets received since the last ACK we sent (RFC 9000 §13.2.1).</summary>
    public int UnackedAckElicitingCount { get; set; }

    /// <summary>When the first unacknowledged ack-eliciting packet arrived; drives the ack-delay timer.</summary>
    public TimeSpan? AckDeadline { get; set; }

    /// <summary>An ACK must go out in this space (something new arrived since the last one).</summary>
    public bool AckPending { get; set; }

    public CryptoReceiveBuffer CryptoReceive { get; } = new();

    public CryptoSendBuffer CryptoSend { get; } = new();

    public SentPacketTracker Sent { get; } = new();

    /// <summary>
    /// Packets below this number are treated as duplicates: their ranges were pruned after the peer acknowledged an
    /// ACK that reported them (RFC 9000 §13.2.4), so we can no longer tell whether they were processed (§12.3).
    /// </summary>
    public ulong ReceiveFloor { get; set; }

    public TimeSpan? TimeOfLastAckElicitingPacket { get; set; }

    /// <summary>RFC 9002 §A.10: earliest time a packet in this space would be declared lost by the time threshold.</summary>
    public TimeSpan? LossTime { get; set; }

    public int AckElicitingInFlight => Sent.AckElicitingInFlight;

    /// <summary>Probe packets to send in this space because the PTO fired (RFC 9002 §6.2.4).</summary>
    public int ProbesPending { get; set; }

    public bool CanSend => WriteKeys is not null && !IsDiscarded;

    public bool CanReceive => ReadKeys is not null && !IsDiscarded;

    /// <summary>
    /// RFC 9001 §4.9 / RFC 9002 §6.4: drop keys and forget in-flight packets of a discarded space; returns the
    /// in-flight bytes forgotten, which congestion control must remove without reacting.
    /// </summary>
    public long Discard()
    {
        if (IsDiscarded) return 0;
        IsDiscarded = true;
        ReadKeys?.Dispose();
        WriteKeys?.Dispose();
        ReadKeys = null;
        WriteKeys = null;
        long inFlight = Sent.Clear();
        LossTime = null;
        TimeOfLastAckElicitingPacket = null;
        AckPending = false;
        AckDeadline = null;
        ProbesPending = 0;
        return inFlight;
    }

    public void Dispose()
    {
        ReadKeys?.Dispose();
        WriteKeys?.Dispose();
    }
}
