using System.Security.Cryptography;
using NSec.Cryptography;

namespace AspNetQuicSteer.Quic.Tls.KeyExchange;

/// <summary>
/// X25519 (RFC 7748) through NSec/libsodium: .NET has no in-box X25519 on this platform. Key shares are the
/// 32-byte u-coordinate (RFC 8446 §4.2.8.2).
/// </summary>
internal sealed class X25519KeyExchange : ITlsKeyExchange
{
    private const int KeyLength = 32;
    private readonly Key _key;

    public X25519KeyExchange()
    {
        _key = Key.Create(KeyAgreementAlgorithm.X25519);
        PublicKey = _key.PublicKey.Export(KeyBlobFormat.RawPublicKey);
    }

    /// <summary>Fixed private key, for known-answer tests (RFC 8448).</summary>
    internal X25519KeyExchange(ReadOnlySpan<byte> privateKey)
    {
        _key = Key.Import(KeyAgreementAlgorithm.X25519, privateKey, KeyBlobFormat.RawPrivateKey);
        PublicKey = _key.PublicKey.Export(KeyBlobFormat.RawPublicKey);
    }

    public TlsNamedGroup Group => TlsNamedGroup.X25519;

    public byte[] PublicKey { get; }

    public byte[] DeriveSharedSecret(ReadOnlySpan<byte> peerPublicKey)
    {
        if (peerPublicKey.Length != KeyLength
            || !NSec.Cryptography.PublicKey.TryImport(KeyAgreementAlgorithm.X25519, peerPublicKey, KeyBlobFormat.RawPublicKey, out NSec.Cryptography.PublicKey? peer)
            || peer is null)
        {
            throw new TlsAlertException(TlsAlert.IllegalParameter, "Invalid X25519 key share.");
        }

        // libsodium refuses (returns null for) an all-zero result; RFC 8446 §7.4.2 and RFC 7748 §6.1 require
        // aborting on it. The explicit check below keeps that guarantee independent of the library.
        using SharedSecret? shared = KeyAgreementAlgorithm.X25519.Agree(_key, peer, new SharedSecretCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        if (shared is null)
        {
            throw new TlsAlertException(TlsAlert.IllegalParameter, "X25519 key share yields an all-zero shared secret.");
        }

        byte[] secret = shared.Export(SharedSecretBlobFormat.RawSharedSecret);
        if (secret.AsSpan().IndexOfAnyExcept((byte)0) < 0)
        {
            throw new TlsAlertException(TlsAlert.IllegalParameter, "X25519 key share yields an all-zero shared secret.");
        }

        return secret;
    }

    public void Dispose() => _key.Dispose();
}
