using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using AspNetQuicSteer.Quic.Tests.Interop;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace AspNetQuicSteer.Kestrel.Tests.Hosting;

/// <summary>
/// What endpoints advertise and bind: Alt-Svc (RFC 9114 §3.1.1, RFC 7838) over HTTP/1.1 and HTTP/2, and the startup
/// check that turns Kestrel's silent "no HTTP/3" outcomes (KESTREL.md §3) into an error.
/// </summary>
[Collection(SequentialHostingTests.Name)]
public sealed class EndpointTests
{
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    /// <summary>
    /// RFC 9114 §3.1.1: a server advertises HTTP/3 with Alt-Svc "h3" on its HTTP/1.1 and HTTP/2 responses. The advertised
    /// port is the UDP port our listener really bound, and an HTTP/3 request to it succeeds.
    /// </summary>
    [Fact]
    public async Task AltSvc_over_HTTP1_and_HTTP2_advertises_the_bound_UDP_port()
    {
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        int port = FreeTcpUdpPort.GetLoopbackPort();
        await using WebApplication app = TestApps.Create(k => k.Listen(port, HttpProtocols.Http1AndHttp2AndHttp3, certificate));
        await app.StartAsync(Cancellation);
        QuicSteeringTransportFactory transport = app.Services.GetRequiredService<QuicSteeringTransportFactory>();
        int udpPort = Assert.Single(transport.Listeners).BoundEndPoint.Port;

        foreach (Version version in new[] { HttpVersion.Version11, HttpVersion.Version20 })
        {
            using HttpClient client = TestApps.CreateTcpClient(port, version, certificate.Certificate);
            using HttpResponseMessage response = await client.GetAsync(new Uri("/", UriKind.Relative), Cancellation);
            Assert.Equal(version, response.Version);
            // SocketsHttpHandler parses Alt-Svc itself (and then prints it without the default ma=86400): compare the
            // alternative, which is what a client acts on.
            Assert.True(response.Headers.NonValidated.TryGetValues("alt-svc", out HeaderStringValues altSvc), $"No Alt-Svc over HTTP/{version}.");
            Assert.StartsWith(string.Create(CultureInfo.InvariantCulture, $"h3=\":{udpPort}\""), altSvc.ToString(), StringComparison.Ordinal);
            Assert.Single(altSvc);
        }

        Assert.True(FreeUdpPort.IsBound(udpPort));
        using TempDirectory downloads = new();
        GtlsClientOutput h3 = await GtlsClient.RunAsync(udpPort, downloads.Path, "/");
        Assert.True(h3.Status(0) == 200, h3.Description);
    }

    /// <summary>
    /// RFC 9114 §3.1.1 / RFC 7838 §3: only an endpoint that serves HTTP/3 may advertise it. Next to an HTTP/3 endpoint, an
    /// endpoint whose Protocols exclude Http3 sends no Alt-Svc and gets no UDP listener.
    /// </summary>
    [Fact]
    public async Task AltSvc_is_absent_on_an_endpoint_without_HTTP3()
    {
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        int h3Port = FreeTcpUdpPort.GetLoopbackPort();
        int tcpOnlyPort = FreeTcpUdpPort.GetLoopbackPort();
        await using WebApplication app = TestApps.Create(k =>
        {
            k.Listen(h3Port, HttpProtocols.Http1AndHttp2AndHttp3, certificate);
            k.Listen(tcpOnlyPort, HttpProtocols.Http1AndHttp2, certificate);
        });
        await app.StartAsync(Cancellation);

        foreach (Version version in new[] { HttpVersion.Version11, HttpVersion.Version20 })
        {
            using HttpClient client = TestApps.CreateTcpClient(tcpOnlyPort, version, certificate.Certificate);
            using HttpResponseMessage response = await client.GetAsync(new Uri("/", UriKind.Relative), Cancellation);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.False(response.Headers.Contains("alt-svc"), $"Alt-Svc sent over HTTP/{version} by an endpoint without HTTP/3.");
        }

        QuicSteeringTransportFactory transport = app.Services.GetRequiredService<QuicSteeringTransportFactory>();
        Assert.Equal(h3Port, Assert.Single(transport.Listeners).BoundEndPoint.Port);
        Assert.False(FreeUdpPort.IsBound(tcpOnlyPort));
    }

    /// <summary>
    /// RFC 7838 §2/§3 and RFC 9114 §3.1.1: Alt-Svc tells clients that HTTP/3 is at that port, so it must only be sent where
    /// HTTP/3 is really bound. Next to a working HTTP/3 endpoint (so the startup check passes), a port-0 endpoint with
    /// several protocols gets no UDP listener (Kestrel skips HTTP/3 for dynamic ports); it must then either fail startup
    /// or advertise nothing. Kestrel decides Alt-Svc before binding, so it advertises h3 on a port where nothing listens.
    /// </summary>
    [Fact]
    public async Task AltSvc_is_not_advertised_by_a_dynamic_port_endpoint_whose_HTTP3_was_skipped()
    {
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        int h3Port = FreeTcpUdpPort.GetLoopbackPort();
        await using WebApplication app = TestApps.Create(k =>
        {
            k.Listen(h3Port, HttpProtocols.Http1AndHttp2AndHttp3, certificate);
            k.Listen(0, HttpProtocols.Http1AndHttp2AndHttp3, certificate);
        });
        try
        {
            await app.StartAsync(Cancellation);
        }
        catch (InvalidOperationException)
        {
            return; // refusing to start is an acceptable answer: nothing false is ever advertised
        }

        int dynamicPort = app.Urls.Select(u => new Uri(u).Port).Single(p => p != h3Port);
        Assert.False(FreeUdpPort.IsBound(dynamicPort), $"Unexpected UDP listener on {dynamicPort}.");
        using HttpClient client = TestApps.CreateTcpClient(dynamicPort, HttpVersion.Version20, certificate.Certificate);
        using HttpResponseMessage response = await client.GetAsync(new Uri("/", UriKind.Relative), Cancellation);
        Assert.True(
            !response.Headers.NonValidated.TryGetValues("alt-svc", out HeaderStringValues altSvc),
            $"Port {dynamicPort} advertises \"{altSvc}\" but has no HTTP/3 listener.");
    }

    /// <summary>
    /// An HTTPS endpoint with several protocols on port 0: Kestrel skips HTTP/3 for it with only an error log (dynamic
    /// ports cannot be shared by two transports). With RequireHttp3 (the default) startup fails with our error instead.
    /// </summary>
    [Fact]
    public async Task Startup_fails_for_HTTP3_on_a_dynamic_port_with_several_protocols()
    {
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        await using WebApplication app = TestApps.Create(k => k.Listen(0, HttpProtocols.Http1AndHttp2AndHttp3, certificate));

        InvalidOperationException error = await Assert.ThrowsAsync<InvalidOperationException>(() => app.StartAsync(Cancellation));

        Assert.Contains("no endpoint serves HTTP/3", error.Message, StringComparison.Ordinal);
        Assert.Contains("port 0", error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// HTTP/3 requires TLS (RFC 9114 §3.1); Kestrel silently drops it from an HTTP/1.1 endpoint without HTTPS. With
    /// RequireHttp3 startup fails with our error instead.
    /// </summary>
    [Fact]
    public async Task Startup_fails_for_HTTP3_without_TLS()
    {
        int port = FreeTcpUdpPort.GetLoopbackPort();
        await using WebApplication app = TestApps.Create(k => k.Listen(port, HttpProtocols.Http1AndHttp2AndHttp3, certificate: null));

        InvalidOperationException error = await Assert.ThrowsAsync<InvalidOperationException>(() => app.StartAsync(Cancellation));

        Assert.Contains("no endpoint serves HTTP/3", error.Message, StringComparison.Ordinal);
        Assert.Contains("HTTPS", error.Message, StringComparison.Ordinal);
    }

    /// <summary>QuicSteering:RequireHttp3=false lets such a site start without HTTP/3 (and without a UDP listener).</summary>
    [Fact]
    public async Task RequireHttp3_false_allows_startup_without_HTTP3()
    {
        int port = FreeTcpUdpPort.GetLoopbackPort();
        await using WebApplication app = TestApps.Create(
            k => k.Listen(port, HttpProtocols.Http1AndHttp2AndHttp3, certificate: null), args: ["--QuicSteering:RequireHttp3=false"]);

        await app.StartAsync(Cancellation);

        Assert.Empty(app.Services.GetRequiredService<QuicSteeringTransportFactory>().Listeners);
        await app.StopAsync(Cancellation);
    }
}
