using System.Security.Cryptography;

namespace AspNetQuicSteer.Quic.Crypto;

/// <summary>TLS 1.3 cipher suites usable with QUIC (RFC 8446 §B.4, RFC 9001 §5.3).</summary>
internal enum TlsCipherSuite : ushort
{
    Aes128GcmSha256 = 0x1301,
    Aes256GcmSha384 = 0x1302,
    ChaCha20Poly1305Sha256 = 0x1303,
}

internal static class TlsCipherSuiteInfo
{
    public static bool IsSupported(ushort value)
        => value is (ushort)TlsCipherSuite.Aes128GcmSha256
            or (ushort)TlsCipherSuite.Aes256GcmSha384
            or (ushort)TlsCipherSuite.ChaCha20Poly1305Sha256;

    public static HashAlgorithmName Hash(this TlsCipherSuite suite)
        => suite == TlsCipherSuite.Aes256GcmSha384 ? HashAlgorithmName.SHA384 : HashAlgorithmName.SHA256;

    public static int HashLength(this TlsCipherSuite suite)
        => suite == TlsCipherSuite.Aes256GcmSha384 ? 48 : 32;

    /// <summary>AEAD key length (RFC 9001 §5.1 "quic key").</summary>
    public static int KeyLength(this TlsCipherSuite suite)
        => suite == TlsCipherSuite.Aes128GcmSha256 ? 16 : 32;

    /// <summary>AEAD nonce length, 12 for all three suites (RFC 8446 §5.3).</summary>
    public static int IvLength(this TlsCipherSuite suite) => 12;

    /// <summary>Header protection key length (RFC 9001 §5.4): AES key size, or 32 for ChaCha20.</summary>
    public static int HeaderProtectionKeyLength(this TlsCipherSuite suite)
        => suite == TlsCipherSuite.Aes128GcmSha256 ? 16 : 32;

    public static string IanaName(this TlsCipherSuite suite) => suite switch
    {
        TlsCipherSuite.Aes128GcmSha256 => "TLS_AES_128_GCM_SHA256",
        TlsCipherSuite.Aes256GcmSha384 => "TLS_AES_256_GCM_SHA384",
        TlsCipherSuite.ChaCha20Poly1305Sha256 => "TLS_CHACHA20_POLY1305_SHA256",
        _ => "unknown",
    };
}
