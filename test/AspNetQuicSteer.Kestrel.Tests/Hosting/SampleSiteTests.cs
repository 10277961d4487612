using System.Net;
using AspNetQuicSteer.Quic.Tests.Interop;

namespace AspNetQuicSteer.Kestrel.Tests.Hosting;

/// <summary>
/// samples/SampleSite under WebApplicationFactory on real Kestrel, our QUIC transport and real UDP, with ngtcp2's
/// gtlsclient as the HTTP/3 client.
/// </summary>
[Collection(SequentialHostingTests.Name)]
public sealed class SampleSiteTests
{
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    /// <summary>
    /// RFC 9114 §3.1 (ALPN "h3") and §4.1 (one request/response per bidirectional stream): the site's /hello, requested
    /// by gtlsclient over QUIC, answers 200 and names HTTP/3 as the protocol Kestrel served it over.
    /// </summary>
    [Fact]
    public async Task Hello_over_HTTP3_from_gtlsclient_says_HTTP3()
    {
        await using SampleSiteFactory site = new();
        site.StartServer();
        using TempDirectory downloads = new();

        GtlsClientOutput output = await GtlsClient.RunAsync(site.Port, downloads.Path, "/hello");

        Assert.True(output.Status(0) == 200, output.Description);
        Assert.Equal($"Hello from {SampleSiteFactory.Version} over HTTP/3\n", await File.ReadAllTextAsync(downloads.Combine("hello"), Cancellation));
        Assert.Equal(site.Port, Assert.Single(site.Transport.Listeners).BoundEndPoint.Port);
    }

    /// <summary>RFC 9114 §4.1: a 300,000-byte response in DATA frames arrives whole, with the site's byte pattern.</summary>
    [Fact]
    public async Task Bytes_over_HTTP3_streams_the_pattern()
    {
        const int length = 300_000;
        await using SampleSiteFactory site = new();
        site.StartServer();
        using TempDirectory downloads = new();

        GtlsClientOutput output = await GtlsClient.RunAsync(site.Port, downloads.Path, $"/bytes/{length}");

        Assert.True(output.Status(0) == 200, output.Description);
        Assert.Equal(length.ToString(System.Globalization.CultureInfo.InvariantCulture), output.Header(0, "content-length"));
        byte[] body = await File.ReadAllBytesAsync(downloads.Combine(length.ToString(System.Globalization.CultureInfo.InvariantCulture)), Cancellation);
        Assert.Equal(length, body.Length);
        for (int i = 0; i < body.Length; i++)
        {
            if (body[i] != (byte)(i % 251)) Assert.Fail($"Byte {i} is {body[i]}, expected {i % 251}.");
        }
    }

    /// <summary>RFC 9114 §4.1: a POST body sent in DATA frames comes back unchanged from /echo.</summary>
    [Fact]
    public async Task Echo_over_HTTP3_returns_the_posted_body()
    {
        await using SampleSiteFactory site = new();
        site.StartServer();
        using TempDirectory downloads = new();
        using TempDirectory uploads = new();
        byte[] payload = new byte[100_000];
        new Random(9114).NextBytes(payload);
        string upload = uploads.Combine("payload.bin");
        await File.WriteAllBytesAsync(upload, payload, Cancellation);

        await using PeerProcess client = GtlsClient.Start(site.Port, ["/echo"], downloads.Path, extraArguments: ["-m", "POST", "-d", upload]);
        await client.WaitForExitAsync(TimeSpan.FromSeconds(30), Cancellation);
        GtlsClientOutput output = new(client.StandardErrorLines, client.Describe());

        Assert.True(output.Status(0) == 200, output.Description);
        Assert.Equal(payload, await File.ReadAllBytesAsync(downloads.Combine("echo"), Cancellation));
    }

    /// <summary>
    /// The same site over TCP: / is the HTML page with the nextHopProtocol script and the version, served over HTTP/2,
    /// and the instance label comes from APP_VERSION.
    /// </summary>
    [Fact]
    public async Task Index_page_over_HTTP2_carries_the_protocol_script_and_the_version()
    {
        await using SampleSiteFactory site = new();
        site.StartServer();
        using HttpClient client = site.CreateTcpClient(HttpVersion.Version20);

        using HttpResponseMessage response = await client.GetAsync(new Uri("/", UriKind.Relative), Cancellation);
        string html = await response.Content.ReadAsStringAsync(Cancellation);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Contains("<pre id=\"protocol\">", html, StringComparison.Ordinal);
        Assert.Contains("performance.getEntriesByType('navigation')[0]", html, StringComparison.Ordinal);
        Assert.Contains("nextHopProtocol", html, StringComparison.Ordinal);
        Assert.Contains($"<span id=\"version\">{SampleSiteFactory.Version}</span>", html, StringComparison.Ordinal);
        Assert.Contains("<span id=\"server-protocol\">HTTP/2</span>", html, StringComparison.Ordinal);
    }

    /// <summary>Out-of-range sizes are refused instead of streaming for ever.</summary>
    [Theory]
    [InlineData("/bytes/1073741825")]
    [InlineData("/slow/60001")]
    public async Task Unbounded_requests_are_refused(string path)
    {
        await using SampleSiteFactory site = new();
        site.StartServer();
        using HttpClient client = site.CreateTcpClient(HttpVersion.Version11);

        using HttpResponseMessage response = await client.GetAsync(new Uri(path, UriKind.Relative), Cancellation);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }
}
