using System.Net.Security;
using TlsCipherSuite = AspNetQuicSteer.Quic.Crypto.TlsCipherSuite;

namespace AspNetQuicSteer.Quic.Tls;

/// <summary>What the server learned from the ClientHello, for asynchronous configuration selection.</summary>
internal sealed record TlsClientHelloInfo(string? ServerName, IReadOnlyList<SslApplicationProtocol> ApplicationProtocols);
