namespace AspNetQuicSteer.Quic.Tls;

/// <summary>Client certificate policy of a server (RFC 8446 §4.3.2).</summary>
internal enum TlsClientCertificateMode
{
    /// <summary>No CertificateRequest.</summary>
    None,

    /// <summary>Request a certificate; an empty Certificate is accepted.</summary>
    Allow,

    /// <summary>Request a certificate; an empty one fails with certificate_required (RFC 8446 §4.4.2.4).</summary>
    Require,
}
