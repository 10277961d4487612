using System.Net;
using AspNetQuicSteer.Quic.Tests.Interop;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace AspNetQuicSteer.Kestrel.Tests.Hosting;

/// <summary>UseQuicSteering() with the slim builder, and options bound from the QuicSteering configuration section.</summary>
[Collection(SequentialHostingTests.Name)]
public sealed class ConfigurationTests
{
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    /// <summary>
    /// WebApplication.CreateSlimBuilder registers only Kestrel's core (no HTTPS configuration service, no UseQuic);
    /// UseQuicSteering() still gives it HTTP/3: gtlsclient completes a request (RFC 9114 §4.1).
    /// </summary>
    [Fact]
    public async Task UseQuicSteering_on_the_slim_builder_serves_HTTP3()
    {
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        int port = FreeTcpUdpPort.GetLoopbackPort();
        await using WebApplication app = TestApps.Create(k => k.Listen(port, HttpProtocols.Http1AndHttp2AndHttp3, certificate), slim: true);
        await app.StartAsync(Cancellation);
        using TempDirectory downloads = new();

        GtlsClientOutput output = await GtlsClient.RunAsync(port, downloads.Path, "/");

        Assert.True(output.Status(0) == 200, output.Description);
        Assert.Equal("ok HTTP/3\n", await File.ReadAllTextAsync(downloads.Combine("index.html"), Cancellation));
    }

    /// <summary>Calling UseQuicSteering() twice registers our multiplexed factory once (and never Kestrel's own).</summary>
    [Fact]
    public void UseQuicSteering_twice_registers_one_factory()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseQuicSteering();
        builder.WebHost.UseQuicSteering();
        using WebApplication app = builder.Build();

        Microsoft.AspNetCore.Connections.IMultiplexedConnectionListenerFactory factory =
            Assert.Single(app.Services.GetServices<Microsoft.AspNetCore.Connections.IMultiplexedConnectionListenerFactory>());
        Assert.IsType<QuicSteeringTransportFactory>(factory);
    }

    /// <summary>
    /// QuicSteering:Transport:MaxBidirectionalStreamCount=7 from configuration reaches the transport: the listener's options
    /// carry it, and the server's initial_max_streams_bidi transport parameter (RFC 9000 §18.2, §4.6) says 7 to a real client.
    /// </summary>
    [Fact]
    public async Task Transport_options_bind_from_the_QuicSteering_section()
    {
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        int port = FreeTcpUdpPort.GetLoopbackPort();
        await using WebApplication app = TestApps.Create(
            k => k.Listen(port, HttpProtocols.Http1AndHttp2AndHttp3, certificate),
            args: ["--QuicSteering:Transport:MaxBidirectionalStreamCount=7", "--QuicSteering:Transport:MaxUnidirectionalStreamCount=5"]);
        await app.StartAsync(Cancellation);

        QuicSteeringConnectionListenerOptionsView listener = new(app.Services.GetRequiredService<QuicSteeringTransportFactory>());
        Assert.Equal(7, listener.MaxBidirectionalStreamCount);
        Assert.Equal(5, listener.MaxUnidirectionalStreamCount);

        using TempDirectory downloads = new();
        GtlsClientOutput output = await GtlsClient.RunAsync(port, downloads.Path, "/");
        Assert.True(output.Status(0) == 200, output.Description);
        Assert.Equal("7", output.RemoteTransportParameter("initial_max_streams_bidi"));
        Assert.Equal("5", output.RemoteTransportParameter("initial_max_streams_uni"));
    }

    /// <summary>Reads the options the single bound listener runs with.</summary>
    private readonly struct QuicSteeringConnectionListenerOptionsView(QuicSteeringTransportFactory factory)
    {
        private readonly QuicSteeringTransportOptions _options = Assert.Single(factory.Listeners).Options;

        public int MaxBidirectionalStreamCount => _options.MaxBidirectionalStreamCount;

        public int MaxUnidirectionalStreamCount => _options.MaxUnidirectionalStreamCount;
    }
}
