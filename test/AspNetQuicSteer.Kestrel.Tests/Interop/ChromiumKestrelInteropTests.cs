using AspNetQuicSteer.Quic.Tests.Interop;

namespace AspNetQuicSteer.Kestrel.Tests.Interop;

/// <summary>Headless Chromium loads a page from Kestrel on our QUIC transport over HTTP/3.</summary>
[Trait("Category", "Interop")]
[Collection(KestrelInteropGroup.Name)]
public sealed class ChromiumKestrelInteropTests
{
    [Fact]
    public async Task ChromiumLoadsThePageOverHttp3()
    {
        // RFC 9114 §3.1: Chromium (forced onto QUIC for this origin) negotiates ALPN h3 with our server; its ClientHello
        // spans two Initial packets (X25519MLKEM768 + X25519 key shares, RFC 9001 §4.3/§7) and its SETTINGS carry GREASE
        // and H3_DATAGRAM (RFC 9114 §7.2.4.1: unknown settings ignored). The page's own script reports the protocol
        // of its navigation, and the server sees the request arrive as HTTP/3.
        CancellationToken cancel = TestContext.Current.CancellationToken;
        Chromium.Require();
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        await using InteropTestServer server = await InteropTestServer.StartAsync(certificate, cancel);

        ChromiumRun run = await Chromium.DumpDomAsync(server, certificate, "/", cancel);

        string context = run.Description + server.Describe();
        Assert.True(run.ExitCode == 0, context);
        Assert.Contains("<title>quicsteer</title>", run.Dom, StringComparison.Ordinal); // the page itself was loaded
        Assert.True(run.Dom.Contains("nextHopProtocol=h3</p>", StringComparison.Ordinal), "the page did not report h3\n" + context);
        Assert.Contains(server.Requests, r => r is { Protocol: "HTTP/3", Method: "GET", Path: "/", StatusCode: 200 });
        Assert.DoesNotContain(server.Requests, r => r.Path == "/" && r.Protocol != "HTTP/3");
        Assert.True(server.Counter("quicsteer.handshakes") >= 1, context);
    }
}
