using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using AspNetQuicSteer.Quic.Crypto;
using TlsCipherSuite = AspNetQuicSteer.Quic.Crypto.TlsCipherSuite;

namespace AspNetQuicSteer.Quic.Tls;

/// <summary>Per-connection server configuration (may be supplied after the ClientHello, see <see cref="TlsServerHandshake.SetServerConfiguration"/>).</summary>
internal sealed class TlsServerOptions
{
    /// <summary>The end-entity certificate; must carry its private key (ECDSA P-256/P-384/P-521 or RSA).</summary>
    public required X509Certificate2 Certificate { get; init; }

    /// <summary>Intermediates sent after the end-entity certificate, in order.</summary>
    public X509Certificate2Collection? CertificateChain { get; init; }

    /// <summary>ALPN protocols in server preference order; required (RFC 9001 §8.1).</summary>
    public required IReadOnlyList<SslApplicationProtocol> ApplicationProtocols { get; init; }

    /// <summary>Our encoded quic_transport_parameters (RFC 9001 §8.2); required.</summary>
    public required ReadOnlyMemory<byte> TransportParameters { get; init; }

    /// <summary>Suites in server preference order.</summary>
    public IReadOnlyList<TlsCipherSuite> CipherSuites { get; init; } = TlsDefaults.CipherSuites;

    /// <summary>Key exchange groups in server preference order (default X25519, then secp256r1).</summary>
    public IReadOnlyList<TlsNamedGroup> Groups { get; init; } = TlsDefaults.ServerGroups;

    public TlsClientCertificateMode ClientCertificateMode { get; init; }

    /// <summary>Roots trusted for client certificates; null means the system store.</summary>
    public X509Certificate2Collection? ClientCertificateTrustedRoots { get; init; }

    public X509RevocationMode ClientCertificateRevocationMode { get; init; } = X509RevocationMode.NoCheck;

    public TlsCertificateValidationCallback? ClientCertificateValidationCallback { get; init; }

    /// <summary>Key log sink; null falls back to SSLKEYLOGFILE.</summary>
    public ITlsKeyLog? KeyLog { get; init; }

    /// <summary>Checks required values; a caller error, not a peer error.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Certificate);
        if (!Certificate.HasPrivateKey)
        {
            throw new ArgumentException("The server certificate has no private key.", nameof(Certificate));
        }

        if (ApplicationProtocols is null || ApplicationProtocols.Count == 0)
        {
            throw new ArgumentException("At least one ALPN protocol is required (RFC 9001 §8.1).", nameof(ApplicationProtocols));
        }

        if (TransportParameters.IsEmpty)
        {
            throw new ArgumentException("Transport parameters are required (RFC 9001 §8.2).", nameof(TransportParameters));
        }

        if (CipherSuites.Count == 0 || Groups.Count == 0)
        {
            throw new ArgumentException("At least one cipher suite and one group are required.");
        }
    }
}
