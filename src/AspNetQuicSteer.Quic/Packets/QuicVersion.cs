namespace AspNetQuicSteer.Quic.Packets;

/// <summary>QUIC version numbers (RFC 8999 §5.1, RFC 9000 §15).</summary>
internal static class QuicVersion
{
    /// <summary>RFC 8999 §6: version 0 identifies a Version Negotiation packet.</summary>
    public const uint Negotiation = 0x00000000;

    /// <summary>RFC 9000 §15: QUIC version 1.</summary>
    public const uint Version1 = 0x00000001;

    /// <summary>
    /// RFC 9000 §15: versions of the form 0x?a?a?a?a are reserved to exercise version negotiation and
    /// are never selected.
    /// </summary>
    public static bool IsReservedForNegotiation(uint version) => (version & 0x0f0f0f0f) == 0x0a0a0a0a;
}
