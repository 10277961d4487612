using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using AspNetQuicSteer.Quic.Crypto;
using TlsCipherSuite = AspNetQuicSteer.Quic.Crypto.TlsCipherSuite;

namespace AspNetQuicSteer.Quic.Tls;

/// <summary>Per-connection client configuration.</summary>
internal sealed class TlsClientOptions
{
    /// <summary>
    /// Host name or IP literal of the server. Sent as SNI unless it is an IP literal (RFC 6066 §3), and
    /// matched against the certificate (DNS or IP SANs). Null skips SNI and the name check.
    /// </summary>
    public string? ServerName { get; init; }

    public required IReadOnlyList<SslApplicationProtocol> ApplicationProtocols { get; init; }

    public required ReadOnlyMemory<byte> TransportParameters { get; init; }

    /// <summary>Suites offered, in preference order.</summary>
    public IReadOnlyList<TlsCipherSuite> CipherSuites { get; init; } = TlsDefaults.CipherSuites;

    /// <summary>Groups we send a key share for in the first ClientHello (default X25519).</summary>
    public IReadOnlyList<TlsNamedGroup> KeyShareGroups { get; init; } = TlsDefaults.ClientKeyShareGroups;

    /// <summary>supported_groups (default X25519, secp256r1); must include every key share group.</summary>
    public IReadOnlyList<TlsNamedGroup> SupportedGroups { get; init; } = TlsDefaults.ServerGroups;

    /// <summary>Custom trust: when set, only these roots are trusted (instead of the system store).</summary>
    public X509Certificate2Collection? TrustedRootCertificates { get; init; }

    public X509RevocationMode RevocationMode { get; init; } = X509RevocationMode.NoCheck;

    public TlsCertificateValidationCallback? CertificateValidationCallback { get; init; }

    /// <summary>Sent when the server requests a client certificate (needs its private key).</summary>
    public X509Certificate2? ClientCertificate { get; init; }

    public X509Certificate2Collection? ClientCertificateChain { get; init; }

    /// <summary>Key log sink; null falls back to SSLKEYLOGFILE.</summary>
    public ITlsKeyLog? KeyLog { get; init; }

    public void Validate()
    {
        if (ApplicationProtocols is null || ApplicationProtocols.Count == 0)
        {
            throw new ArgumentException("At least one ALPN protocol is required (RFC 9001 §8.1).", nameof(ApplicationProtocols));
        }

        if (TransportParameters.IsEmpty)
        {
            throw new ArgumentException("Transport parameters are required (RFC 9001 §8.2).", nameof(TransportParameters));
        }

        if (CipherSuites.Count == 0 || SupportedGroups.Count == 0)
        {
            throw new ArgumentException("At least one cipher suite and one group are required.");
        }

        foreach (TlsNamedGroup g in KeyShareGroups)
        {
            if (!SupportedGroups.Contains(g))
            {
                // RFC 8446 §4.2.8: each KeyShareEntry must correspond to a group in supported_groups.
                throw new ArgumentException($"Key share group {g} is not in SupportedGroups.", nameof(KeyShareGroups));
            }
        }
    }
}
