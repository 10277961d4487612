namespace AspNetQuicSteer.Quic.Tls;

/// <summary>Key exchange groups (RFC 8446 §4.2.7) this stack implements.</summary>
internal enum TlsNamedGroup : ushort
{
    Secp256r1 = 0x0017,
    Secp384r1 = 0x0018,
    X25519 = 0x001D,
}
