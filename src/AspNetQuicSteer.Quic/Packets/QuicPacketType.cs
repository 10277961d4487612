namespace AspNetQuicSteer.Quic.Packets;

/// <summary>What a datagram's packet is, as far as the header tells before header protection is removed.</summary>
internal enum QuicPacketType : byte
{
    /// <summary>RFC 9000 §17.2.2, long packet type 0x00.</summary>
    Initial = 0,

    /// <summary>RFC 9000 §17.2.3, long packet type 0x01.</summary>
    ZeroRtt = 1,

    /// <summary>RFC 9000 §17.2.4, long packet type 0x02.</summary>
    Handshake = 2,

    /// <summary>RFC 9000 §17.2.5, long packet type 0x03.</summary>
    Retry = 3,

    /// <summary>RFC 9000 §17.3.1: the short header carries only 1-RTT packets.</summary>
    OneRtt = 4,

    /// <summary>RFC 9000 §17.2.1 / RFC 8999 §6: long header with version 0.</summary>
    VersionNegotiation = 5,

    /// <summary>
    /// A long header of a version this stack does not speak; only the RFC 8999 invariant fields were
    /// parsed, and the packet spans the rest of the datagram.
    /// </summary>
    UnsupportedVersion = 6,
}
