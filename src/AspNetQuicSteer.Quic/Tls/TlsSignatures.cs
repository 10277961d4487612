using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace AspNetQuicSteer.Quic.Tls;

/// <summary>CertificateVerify signing and verification (RFC 8446 §4.4.3).</summary>
internal static class TlsSignatures
{
    private const string EcPublicKeyOid = "1.2.840.10045.2.1";
    private const string RsaEncryptionOid = "1.2.840.113549.1.1.1";

    /// <summary>What we offer in signature_algorithms (RFC 8446 §4.2.3), most preferred first.</summary>
    public static readonly ushort[] Supported =
    [
        (ushort)TlsSignatureScheme.EcdsaSecp256r1Sha256,
        (ushort)TlsSignatureScheme.RsaPssRsaeSha256,
        (ushort)TlsSignatureScheme.EcdsaSecp384r1Sha384,
        (ushort)TlsSignatureScheme.RsaPssRsaeSha384,
        (ushort)TlsSignatureScheme.RsaPssRsaeSha512,
        (ushort)TlsSignatureScheme.EcdsaSecp521r1Sha512,
    ];

    /// <summary>
    /// RFC 8446 §4.4.3: the signed content is 64 spaces, the context string, a zero byte, then the transcript hash.
    /// </summary>
    public static byte[] BuildSignedContent(bool server, ReadOnlySpan<byte> transcriptHash)
    {
        ReadOnlySpan<byte> context = server ? "TLS 1.3, server CertificateVerify"u8 : "TLS 1.3, client CertificateVerify"u8;
        byte[] content = new byte[64 + context.Length + 1 + transcriptHash.Length];
        content.AsSpan(0, 64).Fill(0x20);
        context.CopyTo(content.AsSpan(64));
        content[64 + context.Length] = 0;
        transcriptHash.CopyTo(content.AsSpan(64 + context.Length + 1));
        return content;
    }

    /// <summary>The schemes a certificate's key can produce, in our preference order.</summary>
    public static IEnumerable<TlsSignatureScheme> SchemesFor(X509Certificate2 certificate)
    {
        switch (certificate.GetKeyAlgorithm())
        {
            case EcPublicKeyOid:
                // RFC 8446 §4.2.3: each ECDSA scheme names its curve; the key's curve must match.
                using (ECDsa? ecdsa = certificate.GetECDsaPublicKey())
                {
                    TlsSignatureScheme? scheme = ecdsa?.KeySize switch
                    {
                        256 => TlsSignatureScheme.EcdsaSecp256r1Sha256,
                        384 => TlsSignatureScheme.EcdsaSecp384r1Sha384,
                        521 => TlsSignatureScheme.EcdsaSecp521r1Sha512,
                        _ => null,
                    };
                    return scheme is { } s ? [s] : [];
                }

            case RsaEncryptionOid:
                // RFC 8446 §4.2.3: rsaEncryption keys sign with RSASSA-PSS (rsa_pss_rsae_*) in TLS 1.3.
                return [TlsSignatureScheme.RsaPssRsaeSha256, TlsSignatureScheme.RsaPssRsaeSha384, TlsSignatureScheme.RsaPssRsaeSha512];
            default:
                return [];
        }
    }

    /// <summary>First scheme (our preference) that the key supports and the peer offered; null when none.</summary>
    public static TlsSignatureScheme? Select(X509Certificate2 certificate, IReadOnlyCollection<ushort> peerSchemes)
    {
        foreach (TlsSignatureScheme scheme in SchemesFor(certificate))
        {
            if (peerSchemes.Contains((ushort)scheme))
            {
                return scheme;
            }
        }

        return null;
    }

    public static byte[] Sign(X509Certificate2 certificate, TlsSignatureScheme scheme, byte[] content)
    {
        HashAlgorithmName hash = HashFor(scheme);
        if (IsEcdsa(scheme))
        {
            using ECDsa key = certificate.GetECDsaPrivateKey() ?? throw new InvalidOperationException("Certificate has no ECDSA private key.");

            // RFC 8446 §4.2.3: ECDSA signatures are DER-encoded ECDSA-Sig-Value (RFC 3279).
            return key.SignData(content, hash, DSASignatureFormat.Rfc3279DerSequence);
        }

        using RSA rsa = certificate.GetRSAPrivateKey() ?? throw new InvalidOperationException("Certificate has no RSA private key.");
        return rsa.SignData(content, hash, RSASignaturePadding.Pss);
    }

    /// <summary>
    /// Verifies a peer's CertificateVerify. RFC 8446 §4.4.3: a scheme the key cannot use is illegal_parameter,
    /// a bad signature is decrypt_error.
    /// </summary>
    public static void Verify(X509Certificate2 certificate, ushort scheme, byte[] content, byte[] signature)
    {
        bool compatible = false;
        try
        {
            foreach (TlsSignatureScheme s in SchemesFor(certificate))
            {
                compatible |= (ushort)s == scheme;
            }
        }
        catch (CryptographicException e)
        {
            throw new TlsAlertException(TlsAlert.BadCertificate, "The certificate public key cannot be used.", e);
        }

        if (!compatible)
        {
            throw new TlsAlertException(TlsAlert.IllegalParameter, $"Signature scheme 0x{scheme:x4} does not match the certificate key.");
        }

        TlsSignatureScheme typed = (TlsSignatureScheme)scheme;
        HashAlgorithmName hash = HashFor(typed);
        bool valid;
        try
        {
            if (IsEcdsa(typed))
            {
                using ECDsa key = certificate.GetECDsaPublicKey()!;
                valid = key.VerifyData(content, signature, hash, DSASignatureFormat.Rfc3279DerSequence);
            }
            else
            {
                using RSA key = certificate.GetRSAPublicKey()!;
                valid = key.VerifyData(content, signature, hash, RSASignaturePadding.Pss);
            }
        }
        catch (CryptographicException)
        {
            valid = false;
        }

        if (!valid)
        {
            throw new TlsAlertException(TlsAlert.DecryptError, "CertificateVerify signature is invalid.");
        }
    }

    private static bool IsEcdsa(TlsSignatureScheme scheme)
        => scheme is TlsSignatureScheme.EcdsaSecp256r1Sha256 or TlsSignatureScheme.EcdsaSecp384r1Sha384 or TlsSignatureScheme.EcdsaSecp521r1Sha512;

    private static HashAlgorithmName HashFor(TlsSignatureScheme scheme) => scheme switch
    {
        TlsSignatureScheme.EcdsaSecp256r1Sha256 or TlsSignatureScheme.RsaPssRsaeSha256 => HashAlgorithmName.SHA256,
        TlsSignatureScheme.EcdsaSecp384r1Sha384 or TlsSignatureScheme.RsaPssRsaeSha384 => HashAlgorithmName.SHA384,
        _ => HashAlgorithmName.SHA512,
    };
}
