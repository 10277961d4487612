using System.Net.Security;
using TlsCipherSuite = AspNetQuicSteer.Quic.Crypto.TlsCipherSuite;
using System.Security.Cryptography.X509Certificates;

namespace AspNetQuicSteer.Quic.Tls;

/// <summary>
/// Optional application decision on the peer certificate, after the built-in chain and name checks. Return
/// true to accept (even with <paramref name="errors"/>), false to reject.
/// </summary>
internal delegate bool TlsCertificateValidationCallback(X509Certificate2 certificate, X509Chain chain, SslPolicyErrors errors);
