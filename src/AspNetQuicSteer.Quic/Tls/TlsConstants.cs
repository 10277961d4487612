namespace AspNetQuicSteer.Quic.Tls;

/// <summary>Fixed protocol values of TLS 1.3.</summary>
internal static class TlsConstants
{
    /// <summary>legacy_version in ClientHello/ServerHello (RFC 8446 §4.1.2).</summary>
    public const ushort LegacyVersion = 0x0303;

    /// <summary>supported_versions value for TLS 1.3 (RFC 8446 §4.2.1).</summary>
    public const ushort Tls13 = 0x0304;

    public const int RandomLength = 32;

    /// <summary>Handshake message header: msg_type(1) + length(3) (RFC 8446 §4).</summary>
    public const int HandshakeHeaderLength = 4;

    /// <summary>Largest handshake message accepted; certificate chains dominate (bounded to limit memory per connection).</summary>
    public const int MaxHandshakeMessageLength = 256 * 1024;

    /// <summary>psk_dhe_ke (RFC 8446 §4.2.9).</summary>
    public const byte PskDheKeyExchangeMode = 1;

    /// <summary>SHA-256("HelloRetryRequest"), the ServerHello.random that marks a HelloRetryRequest (RFC 8446 §4.1.3).</summary>
    public static ReadOnlySpan<byte> HelloRetryRequestRandom =>
    [
        0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
        0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
    ];
}
