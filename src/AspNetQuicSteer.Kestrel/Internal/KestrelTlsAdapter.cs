using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using AspNetQuicSteer.Quic.Tls;

namespace AspNetQuicSteer.Kestrel.Internal;

/// <summary>
/// Turns the <see cref="SslServerAuthenticationOptions"/> Kestrel's <c>TlsConnectionCallbackOptions.OnConnection</c>
/// returned into our TLS server configuration. The options object may be shared by every connection: it is only read.
/// </summary>
internal static class KestrelTlsAdapter
{
    /// <summary>HTTP/3's ALPN token (RFC 9114 §3.1), the only one offered.</summary>
    private static readonly IReadOnlyList<SslApplicationProtocol> s_http3Only = [SslApplicationProtocol.Http3];

    public static TlsServerOptions Create(SslServerAuthenticationOptions ssl, string? serverName, ReadOnlyMemory<byte> transportParameters, object sender)
    {
        ArgumentNullException.ThrowIfNull(ssl);
        (X509Certificate2 certificate, X509Certificate2Collection? chain) = SelectCertificate(ssl, serverName, sender);
        if (!certificate.HasPrivateKey)
        {
            throw new InvalidOperationException($"The HTTPS certificate '{certificate.Subject}' has no private key; HTTP/3 cannot use it.");
        }

        TlsClientCertificateMode mode = TlsClientCertificateMode.None;
        TlsCertificateValidationCallback? validation = null;
        if (ssl.ClientCertificateRequired)
        {
            RemoteCertificateValidationCallback? callback = ssl.RemoteCertificateValidationCallback;

            // Kestrel expresses ClientCertificateMode through the callback's answer for a missing certificate
            // (AllowCertificate accepts it, RequireCertificate does not): ask it once, then request accordingly
            // (RFC 8446 §4.3.2 CertificateRequest; §4.4.2.4 an empty Certificate fails only when required).
            mode = callback is null || !callback(sender, null, null, SslPolicyErrors.RemoteCertificateNotAvailable)
                ? TlsClientCertificateMode.Require
                : TlsClientCertificateMode.Allow;
            if (callback is not null)
            {
                validation = (peer, peerChain, errors) => callback(sender, peer, peerChain, errors);
            }
        }

        return new TlsServerOptions
        {
            Certificate = certificate,
            CertificateChain = chain,

            // Kestrel binds this transport for HTTP/3 only, but SNI configuration rewrites ALPN to h2/http1.1
            // (SniOptionsSelector.ConfigureAlpn): always offer exactly h3, so any other ALPN fails the handshake with
            // no_application_protocol (RFC 9001 §8.1) instead of producing a connection Kestrel would mis-handle.
            ApplicationProtocols = s_http3Only,
            TransportParameters = transportParameters,
            ClientCertificateMode = mode,
            ClientCertificateValidationCallback = validation,
            ClientCertificateRevocationMode = ssl.CertificateRevocationCheckMode,
        };
    }

    /// <summary>
    /// Certificate precedence as SslStream uses it: the certificate context (with its intermediates), then the
    /// certificate, then the selection callback with the SNI host name.
    /// </summary>
    private static (X509Certificate2 Certificate, X509Certificate2Collection? Chain) SelectCertificate(
        SslServerAuthenticationOptions ssl, string? serverName, object sender)
    {
        if (ssl.ServerCertificateContext is { } context)
        {
            X509Certificate2Collection? chain = null;
            if (context.IntermediateCertificates.Count > 0)
            {
                chain = [.. context.IntermediateCertificates];
            }

            return (context.TargetCertificate, chain);
        }

        if (ssl.ServerCertificate is { } certificate) return (AsCertificate2(certificate), null);

        if (ssl.ServerCertificateSelectionCallback is { } select && select(sender, serverName) is { } selected)
        {
            return (AsCertificate2(selected), null);
        }

        throw new InvalidOperationException($"No server certificate is configured for host name '{serverName ?? "(no SNI)"}'.");
    }

    private static X509Certificate2 AsCertificate2(X509Certificate certificate)
        => certificate as X509Certificate2 ?? new X509Certificate2(certificate); // keeps the private key handle
}
