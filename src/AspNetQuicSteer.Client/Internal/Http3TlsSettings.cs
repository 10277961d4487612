using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using AspNetQuicSteer.Quic.Tls;

namespace AspNetQuicSteer.Client.Internal;

/// <summary>The TLS side of one origin: server name (SNI and certificate match), trust and client certificate.</summary>
internal sealed class Http3TlsSettings
{
    private readonly QuicSteeringHttp3HandlerOptions _options;
    private readonly HttpRequestMessage _firstRequest;

    public Http3TlsSettings(string host, QuicSteeringHttp3HandlerOptions options, HttpRequestMessage firstRequest)
    {
        // RFC 6066 §3: an IP literal is not sent as SNI; the certificate must then carry it as an IP SAN.
        ServerName = host.Length > 0 && host[0] == '[' ? host[1..^1] : host;
        _options = options;
        _firstRequest = firstRequest;
    }

    public string ServerName { get; }

    public TlsClientOptions Create(ReadOnlyMemory<byte> transportParameters, SslApplicationProtocol alpn)
    {
        Func<HttpRequestMessage, X509Certificate2, X509Chain, SslPolicyErrors, bool>? callback = _options.ServerCertificateCustomValidationCallback;
        return new TlsClientOptions
        {
            ServerName = ServerName,
            ApplicationProtocols = [alpn], // RFC 9114 §3.1: "h3" only
            TransportParameters = transportParameters,
            TrustedRootCertificates = _options.TrustedRootCertificates,
            CertificateValidationCallback = callback is null ? null : (leaf, chain, errors) => callback(_firstRequest, leaf, chain, errors),
            ClientCertificate = _options.ClientCertificate,
        };
    }

    /// <summary>True when <see cref="ServerName"/> is an address literal (no DNS lookup).</summary>
    public bool IsAddress(out IPAddress? address) => IPAddress.TryParse(ServerName, out address);
}
