namespace AspNetQuicSteer.Quic.Tls.KeyExchange;

/// <summary>Creates key pairs for the groups this stack implements.</summary>
internal static class TlsKeyExchangeFactory
{
    public static bool IsSupported(ushort group)
        => group is (ushort)TlsNamedGroup.X25519 or (ushort)TlsNamedGroup.Secp256r1 or (ushort)TlsNamedGroup.Secp384r1;

    public static ITlsKeyExchange Create(TlsNamedGroup group) => group switch
    {
        TlsNamedGroup.X25519 => new X25519KeyExchange(),
        TlsNamedGroup.Secp256r1 or TlsNamedGroup.Secp384r1 => new NistEcdhKeyExchange(group),
        _ => throw new ArgumentOutOfRangeException(nameof(group), group, "Unsupported group."),
    };
}
