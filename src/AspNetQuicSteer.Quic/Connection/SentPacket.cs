namespace AspNetQuicSteer.Quic.Connection;

/// <summary>
/// What recovery needs to remember about a sent packet (RFC 9002 §A.1.1). The frames it carried live in the
/// owning <see cref="SentPacketTracker"/>'s frame ring at [<see cref="FrameStart"/>, +<see cref="FrameCount"/>).
/// </summary>
internal struct SentPacket
{
    public ulong PacketNumber;
    public TimeSpan TimeSent;
    public int Size;
    public bool AckEliciting;
    public bool InFlight;

    /// <summary>Largest packet number acknowledged by an ACK frame in this packet; once this packet is acknowledged,
    /// older receive ranges need not be reported again (RFC 9000 §13.2.4).</summary>
    public ulong? LargestAcknowledgedInAck;

    internal long FrameStart;
    internal int FrameCount;
    internal bool Removed;
}
