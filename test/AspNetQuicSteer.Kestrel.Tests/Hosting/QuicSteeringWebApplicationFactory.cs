using System.Net;
using AspNetQuicSteer.Quic.Tests.Interop;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace AspNetQuicSteer.Kestrel.Tests.Hosting;

/// <summary>
/// WebApplicationFactory hosting an app that calls <c>UseQuicSteering()</c> on real Kestrel with HTTP/1.1, HTTP/2 and
/// HTTP/3 on one loopback port (KESTREL.md §6):
/// <list type="bullet">
/// <item>UseKestrel(Action) with an explicit HTTPS endpoint: WAF's UseKestrel(port) would force plain http (no h3);</item>
/// <item>a fixed port chosen at run time, free for TCP and UDP: Kestrel skips HTTP/3 for port 0 with several protocols;</item>
/// <item>our transport factory re-registered last in <see cref="CreateHost"/>: WAF applies its own UseKestrel() (and so
/// UseQuic()) after the app's registrations, so on a machine with libmsquic Kestrel's QUIC factory would otherwise
/// win (Kestrel tries the last-registered factory first).</item>
/// </list>
/// </summary>
internal class QuicSteeringWebApplicationFactory<TEntryPoint> : WebApplicationFactory<TEntryPoint>
    where TEntryPoint : class
{
    private IHost? _host;

    public QuicSteeringWebApplicationFactory()
    {
        Certificate = TestCertificates.CreateEcdsaP256();
        Port = FreeTcpUdpPort.GetLoopbackPort();
        UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, Port, listen =>
        {
            listen.Protocols = HttpProtocols.Http1AndHttp2AndHttp3;
            listen.UseHttps(Certificate.Certificate);
        }));
    }

    /// <summary>The TCP and UDP port of the endpoint.</summary>
    public int Port { get; }

    public TestCertificate Certificate { get; }

    /// <summary>The running host (after <see cref="WebApplicationFactory{TEntryPoint}.StartServer"/>), for StopAsync.</summary>
    public IHost Host => _host ?? throw new InvalidOperationException("The server has not been started.");

    /// <summary>Our transport factory as Kestrel uses it (its listeners and options).</summary>
    public QuicSteeringTransportFactory Transport => Services.GetRequiredService<QuicSteeringTransportFactory>();

    /// <summary>
    /// An HttpClient speaking HTTP/3 to the server through <see cref="AspNetQuicSteer.Client.QuicSteeringHttp3Handler"/>
    /// (no libmsquic), trusting only the test certificate. Dispose it before the factory.
    /// </summary>
    public HttpClient CreateHttp3Client(Action<AspNetQuicSteer.Client.QuicSteeringHttp3HandlerOptions>? configure = null)
    {
        var options = new AspNetQuicSteer.Client.QuicSteeringHttp3HandlerOptions
        {
            TrustedRootCertificates = [System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(Certificate.Certificate.RawData)],
        };
        configure?.Invoke(options);
        return new HttpClient(new AspNetQuicSteer.Client.QuicSteeringHttp3Handler(options))
        {
            BaseAddress = new Uri($"https://127.0.0.1:{Port}/"),
            DefaultRequestVersion = HttpVersion.Version30,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
    }

    /// <summary>An HttpClient over TCP (exactly HTTP/1.1 or HTTP/2, per <paramref name="version"/>) accepting the test certificate.</summary>
    public HttpClient CreateTcpClient(Version version) => TestApps.CreateTcpClient(Port, version, Certificate.Certificate);

    protected override IHost CreateHost(IHostBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.ConfigureServices(static services =>
        {
            // Only for apps that called UseQuicSteering(): it registered the options and metrics the factory needs.
            if (services.Any(d => d.ServiceType == typeof(QuicSteeringTransportFactory)))
            {
                WebHostBuilderQuicSteeringExtensions.AddTransportFactory(services);
            }
        });
        _host = base.CreateHost(builder);
        return _host;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Certificate.Dispose();
        GC.SuppressFinalize(this);
    }
}
