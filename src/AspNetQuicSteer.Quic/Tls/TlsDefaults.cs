using AspNetQuicSteer.Quic.Crypto;

namespace AspNetQuicSteer.Quic.Tls;

internal static class TlsDefaults
{
    public static readonly TlsCipherSuite[] CipherSuites =
        [TlsCipherSuite.Aes128GcmSha256, TlsCipherSuite.Aes256GcmSha384, TlsCipherSuite.ChaCha20Poly1305Sha256];

    public static readonly TlsNamedGroup[] ServerGroups = [TlsNamedGroup.X25519, TlsNamedGroup.Secp256r1];

    public static readonly TlsNamedGroup[] ClientKeyShareGroups = [TlsNamedGroup.X25519];
}
