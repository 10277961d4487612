using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AspNetQuicSteer.Hosting;
using AspNetQuicSteer.Quic.Tests.Interop;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace AspNetQuicSteer.Kestrel.Tests.Hosting;

/// <summary>Small apps on real Kestrel with UseQuicSteering(), for the endpoint and configuration cases.</summary>
internal static class TestApps
{
    /// <summary>
    /// An app with <c>UseQuicSteering(configure)</c>, Kestrel configured by <paramref name="kestrel"/>, and one endpoint
    /// "/" answering "ok {protocol}".
    /// </summary>
    public static WebApplication Create(
        Action<KestrelServerOptions> kestrel, bool slim = false, string[]? args = null, Action<QuicSteeringOptions>? configure = null)
    {
        WebApplicationBuilder builder = slim ? WebApplication.CreateSlimBuilder(args ?? []) : WebApplication.CreateBuilder(args ?? []);
        builder.WebHost.UseQuicSteering(configure);
        builder.WebHost.ConfigureKestrel(kestrel);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        WebApplication app = builder.Build();
        app.MapGet("/", (HttpContext context) => $"ok {context.Request.Protocol}\n");
        return app;
    }

    /// <summary>Listens on loopback <paramref name="port"/> with <paramref name="protocols"/>, over TLS unless told otherwise.</summary>
    public static void Listen(this KestrelServerOptions kestrel, int port, HttpProtocols protocols, TestCertificate? certificate)
        => kestrel.Listen(IPAddress.Loopback, port, listen =>
        {
            listen.Protocols = protocols;
            if (certificate is not null) listen.UseHttps(certificate.Certificate);
        });

    /// <summary>
    /// An HttpClient over TCP with exactly <paramref name="version"/> that trusts only <paramref name="serverCertificate"/>
    /// (the self-signed test certificate, pinned by thumbprint).
    /// </summary>
    public static HttpClient CreateTcpClient(int port, Version version, X509Certificate2 serverCertificate)
    {
        string pinned = serverCertificate.GetCertHashString(HashAlgorithmName.SHA256);
        SocketsHttpHandler handler = new()
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, presented, _, _) =>
                    presented is not null && presented.GetCertHashString(HashAlgorithmName.SHA256) == pinned,
            },
        };
        return new HttpClient(handler)
        {
            BaseAddress = new Uri(FormattableString.Invariant($"https://127.0.0.1:{port}/")),
            DefaultRequestVersion = version,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = TimeSpan.FromSeconds(30),
        };
    }
}
