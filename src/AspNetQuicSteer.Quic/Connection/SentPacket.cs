namespace AspNetQuicSteer.Quic.Connection;

/// <summary>
/// What recovery needs to remember about a sent packet (RFC 9002 §A.1.1), plus which retransmittable
/// content it carried so a loss can requeue exactly that.
/// </summary>
internal struct SentPacket
{
    public ulong PacketNumber;
    public TimeSpan TimeSent;
    public int Size;
    public bool AckEliciting;
    public bool InFlight;
    public ulong CryptoOffset;
    public int CryptoLength;
    public bool CarriesHandshakeDone;
}
