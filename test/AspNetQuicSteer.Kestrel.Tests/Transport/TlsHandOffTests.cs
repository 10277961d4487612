using System.Security.Cryptography.X509Certificates;
using AspNetQuicSteer.Quic.Tests.Interop;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace AspNetQuicSteer.Kestrel.Tests.Transport;

/// <summary>
/// TLS for HTTP/3 comes from Kestrel's HTTPS configuration (TlsConnectionCallbackOptions, KESTREL.md §2), chosen after
/// the ClientHello (RFC 9001 §4.1): certificate, SNI selection, client certificates, and ALPN h3 only (RFC 9114 §3.1).
/// </summary>
public sealed class TlsHandOffTests : IDisposable
{
    private readonly TestCertificate _serverA = TestCertificates.CreateEcdsaP256();
    private readonly TestCertificate _serverB = TestCertificates.CreateRsa();
    private readonly TestCertificate _client = TestCertificates.CreateEcdsaP256();

    public void Dispose()
    {
        _serverA.Dispose();
        _serverB.Dispose();
        _client.Dispose();
    }

    private static void MapInfo(WebApplication app) => app.MapGet("/info", (HttpContext c) =>
        $"{c.Request.Protocol} {c.Request.Scheme} client={c.Connection.ClientCertificate?.Thumbprint ?? "none"}");

    [Fact]
    public async Task ServerCertificate_FromUseHttps_ServesHttp3Request()
    {
        await using TransportTestHost host = await TransportTestHost.StartAsync(lo => lo.UseHttps(_serverA.Certificate), MapInfo);
        await using MinimalHttp3Client client = await MinimalHttp3Client.ConnectAsync(host.QuicEndPoint, "localhost");

        Assert.Equal(_serverA.Certificate.Thumbprint, (await client.GetServerCertificateAsync())?.Thumbprint);
        Http3Response response = await client.SendAsync("GET", $"localhost:{host.Port}", "/info");
        Assert.Equal(200, response.Status);

        // KESTREL.md §1: ITlsConnectionFeature on the connection makes the request "https" (else 0x101 resets).
        Assert.Equal("HTTP/3 https client=none", response.BodyText);
    }

    [Fact]
    public async Task ServerCertificateSelector_ChoosesBySni()
    {
        await using TransportTestHost host = await TransportTestHost.StartAsync(
            lo => lo.UseHttps(h => h.ServerCertificateSelector = (_, name) => name == "b.test" ? _serverB.Certificate : _serverA.Certificate),
            MapInfo);

        await using (MinimalHttp3Client a = await MinimalHttp3Client.ConnectAsync(host.QuicEndPoint, "a.test"))
        {
            Assert.Equal(_serverA.Certificate.Thumbprint, (await a.GetServerCertificateAsync())?.Thumbprint);
            Assert.Equal(200, (await a.SendAsync("GET", "a.test", "/info")).Status);
        }

        await using MinimalHttp3Client b = await MinimalHttp3Client.ConnectAsync(host.QuicEndPoint, "b.test");
        Assert.Equal(_serverB.Certificate.Thumbprint, (await b.GetServerCertificateAsync())?.Thumbprint);
        Assert.Equal(200, (await b.SendAsync("GET", "b.test", "/info")).Status);
    }

    [Fact]
    public async Task RequiredClientCertificate_IsVisibleToTheApplication()
    {
        await using TransportTestHost host = await TransportTestHost.StartAsync(lo => lo.UseHttps(h =>
        {
            h.ServerCertificate = _serverA.Certificate;
            h.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
            h.ClientCertificateValidation = (_, _, _) => true;
        }), MapInfo);

        await using MinimalHttp3Client client = await MinimalHttp3Client.ConnectAsync(host.QuicEndPoint, "localhost", _client.Certificate);
        Http3Response response = await client.SendAsync("GET", "localhost", "/info");
        Assert.Equal($"HTTP/3 https client={_client.Certificate.Thumbprint}", response.BodyText);
    }

    [Fact]
    public async Task RequiredClientCertificate_Missing_FailsHandshakeWithCertificateRequired()
    {
        await using TransportTestHost host = await TransportTestHost.StartAsync(lo => lo.UseHttps(h =>
        {
            h.ServerCertificate = _serverA.Certificate;
            h.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
        }), MapInfo);

        // RFC 8446 §4.4.2.4: certificate_required (116) → CRYPTO_ERROR 0x100 + 116 (RFC 9001 §4.8).
        QuicClosedException closed = await Assert.ThrowsAsync<QuicClosedException>(async () =>
        {
            await using MinimalHttp3Client client = await MinimalHttp3Client.ConnectAsync(host.QuicEndPoint, "localhost");
            await client.SendAsync("GET", "localhost", "/info", timeout: TimeSpan.FromSeconds(5));
        });
        Assert.Equal(0x100UL + 116, closed.Error.ErrorCode);
    }

    [Fact]
    public async Task AllowedClientCertificate_Missing_StillServes()
    {
        await using TransportTestHost host = await TransportTestHost.StartAsync(lo => lo.UseHttps(h =>
        {
            h.ServerCertificate = _serverA.Certificate;
            h.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
        }), MapInfo);

        await using MinimalHttp3Client client = await MinimalHttp3Client.ConnectAsync(host.QuicEndPoint, "localhost");
        Assert.Equal("HTTP/3 https client=none", (await client.SendAsync("GET", "localhost", "/info")).BodyText);
    }

    [Fact]
    public async Task NonH3Alpn_IsRejectedWithNoApplicationProtocol()
    {
        await using TransportTestHost host = await TransportTestHost.StartAsync(lo => lo.UseHttps(_serverA.Certificate), MapInfo);

        // RFC 9001 §8.1: no common ALPN → no_application_protocol (120) → CRYPTO_ERROR 0x178.
        QuicClosedException closed = await Assert.ThrowsAsync<QuicClosedException>(
            () => MinimalHttp3Client.ConnectAsync(host.QuicEndPoint, "localhost", alpn: "hq-interop"));
        Assert.Equal(0x178UL, closed.Error.ErrorCode);
    }

    [Fact]
    public async Task TlsHandshakeCallbackOptions_WithH2OnlyAlpn_StillServesH3()
    {
        // KESTREL.md §2 trap: SNI-style callbacks set ALPN to h2/http1.1; the transport offers exactly h3 regardless.
        await using TransportTestHost host = await TransportTestHost.StartAsync(lo => lo.UseHttps(new TlsHandshakeCallbackOptions
        {
            OnConnection = _ => ValueTask.FromResult(new System.Net.Security.SslServerAuthenticationOptions
            {
                ServerCertificate = _serverB.Certificate,
                ApplicationProtocols = [System.Net.Security.SslApplicationProtocol.Http2, System.Net.Security.SslApplicationProtocol.Http11],
            }),
        }), MapInfo);

        await using MinimalHttp3Client client = await MinimalHttp3Client.ConnectAsync(host.QuicEndPoint, "localhost");
        Assert.Equal(_serverB.Certificate.Thumbprint, (await client.GetServerCertificateAsync())?.Thumbprint);
        Assert.Equal(200, (await client.SendAsync("GET", "localhost", "/info")).Status);
    }

    [Fact]
    public async Task CertificateWithoutPrivateKey_FailsTheHandshakeNotTheServer()
    {
        using X509Certificate2 publicOnly = X509CertificateLoader.LoadCertificate(_serverA.Certificate.RawData);
        await using TransportTestHost host = await TransportTestHost.StartAsync(lo => lo.UseHttps(new TlsHandshakeCallbackOptions
        {
            OnConnection = _ => ValueTask.FromResult(new System.Net.Security.SslServerAuthenticationOptions { ServerCertificate = publicOnly }),
        }), MapInfo);

        // RFC 9001 §4.8: the server cannot proceed → internal_error (80) → CRYPTO_ERROR 0x150.
        QuicClosedException closed = await Assert.ThrowsAsync<QuicClosedException>(
            () => MinimalHttp3Client.ConnectAsync(host.QuicEndPoint, "localhost"));
        Assert.Equal(0x150UL, closed.Error.ErrorCode);

        // The listener is unharmed: a second client with a sane server config is not possible here, but the process
        // and loop survive, so the same failure repeats deterministically.
        QuicClosedException again = await Assert.ThrowsAsync<QuicClosedException>(
            () => MinimalHttp3Client.ConnectAsync(host.QuicEndPoint, "localhost"));
        Assert.Equal(0x150UL, again.Error.ErrorCode);
    }
}
