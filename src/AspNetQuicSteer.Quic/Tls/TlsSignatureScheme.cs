namespace AspNetQuicSteer.Quic.Tls;

/// <summary>Signature schemes (RFC 8446 §4.2.3) this stack can produce or verify in CertificateVerify.</summary>
internal enum TlsSignatureScheme : ushort
{
    EcdsaSecp256r1Sha256 = 0x0403,
    EcdsaSecp384r1Sha384 = 0x0503,
    EcdsaSecp521r1Sha512 = 0x0603,
    RsaPssRsaeSha256 = 0x0804,
    RsaPssRsaeSha384 = 0x0805,
    RsaPssRsaeSha512 = 0x0806,
}
