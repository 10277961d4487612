using AspNetQuicSteer.Quic.Tests.Interop;

namespace AspNetQuicSteer.Kestrel.Tests.Interop;

/// <summary>
/// quic-go's HTTP/3 client (RoundTripper) against Kestrel on our transport: GET, 100 concurrent GETs on one connection,
/// and 10 MB up and down with every byte checked on both sides. quic-go offers only an X25519 key share and its own
/// QPACK/SETTINGS behaviour, so this is an independent implementation of RFC 9000/9001/9114/9204 checking ours.
/// </summary>
[Trait("Category", "Interop")]
[Collection(KestrelInteropGroup.Name)]
public sealed class QuicGoKestrelInteropTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task GetSaysHttp3()
    {
        CancellationToken cancel = TestContext.Current.CancellationToken;
        QuicGoH3Client.Require();
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        await using InteropTestServer server = await InteropTestServer.StartAsync(certificate, cancel);

        H3ClientRun run = await QuicGoH3Client.RunAsync("get", ["-print", server.Url("/hello")], Timeout, cancel);

        Assert.True(run.Ok, run.Description + server.Describe());
        Assert.Contains("Hello from interop over HTTP/3", run.Description, StringComparison.Ordinal); // RFC 9114 §4.1 response body
        Assert.Contains(server.Requests, r => r is { Protocol: "HTTP/3", Path: "/hello", StatusCode: 200 });
    }

    [Fact]
    public async Task HundredConcurrentGetsOnOneConnection()
    {
        CancellationToken cancel = TestContext.Current.CancellationToken;
        QuicGoH3Client.Require();
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        await using InteropTestServer server = await InteropTestServer.StartAsync(certificate, cancel);

        // RFC 9000 §4.6: 100 request streams at once fit the transport's MAX_STREAMS (default 100); 300 in total
        // need credit returned as streams finish.
        H3ClientRun run = await QuicGoH3Client.RunAsync("get", ["-n", "300", "-c", "100", server.Url("/hello")], Timeout, cancel);

        Assert.True(run.Ok, run.Description + server.Describe());
        Assert.Equal(300, run.Field("status200"));
        Assert.Equal(300, server.Requests.Count(r => r is { Protocol: "HTTP/3", Path: "/hello", StatusCode: 200 }));
        Assert.Equal(1, server.Counter("quicsteer.handshakes"));
    }

    [Fact]
    public async Task TenMegabyteUploadIsEchoedByteForByte()
    {
        CancellationToken cancel = TestContext.Current.CancellationToken;
        QuicGoH3Client.Require();
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        await using InteropTestServer server = await InteropTestServer.StartAsync(certificate, cancel);

        // The client sends the i % 251 pattern and compares the echoed body with what it sent (RFC 9114 §4.1: request
        // body in DATA frames, flow control RFC 9000 §4 in both directions at once).
        H3ClientRun run = await QuicGoH3Client.RunAsync("upload", ["-size", "10485760", server.Url("/echo")], Timeout, cancel);

        Assert.True(run.Ok, run.Description + server.Describe());
        Assert.Equal(10_485_760, run.Field("sent"));
        Assert.Equal(10_485_760, run.Field("received"));
    }

    [Fact]
    public async Task TenMegabyteDownloadHasThePattern()
    {
        CancellationToken cancel = TestContext.Current.CancellationToken;
        QuicGoH3Client.Require();
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        await using InteropTestServer server = await InteropTestServer.StartAsync(certificate, cancel);

        H3ClientRun run = await QuicGoH3Client.RunAsync("download", ["-expect", "10485760", server.Url("/bytes/10485760")], Timeout, cancel);

        Assert.True(run.Ok, run.Description + server.Describe());
        Assert.Equal(10_485_760, run.Field("bytes"));
    }
}
