using System.Net.Security;

namespace AspNetQuicSteer.Quic.Tls;

/// <summary>What the server learned from the ClientHello, for asynchronous configuration selection.</summary>
internal sealed record TlsClientHelloInfo(string? ServerName, IReadOnlyList<SslApplicationProtocol> ApplicationProtocols);
