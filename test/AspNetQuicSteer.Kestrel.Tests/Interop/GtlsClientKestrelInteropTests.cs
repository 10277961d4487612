using System.Security.Cryptography;
using AspNetQuicSteer.Quic.Tests.Interop;

namespace AspNetQuicSteer.Kestrel.Tests.Interop;

/// <summary>
/// ngtcp2's gtlsclient (a real HTTP/3 client, nghttp3 + GnuTLS) against Kestrel on our QUIC transport, in-process:
/// many requests on one connection, a large POST echoed back, and migration plus key update mid-download.
/// </summary>
[Trait("Category", "Interop")]
[Collection(KestrelInteropGroup.Name)]
public sealed class GtlsClientKestrelInteropTests
{
    [Fact]
    public async Task ThousandRequestsOnOneConnectionAllGet200()
    {
        // RFC 9114 §4.1 / §6.1: each request on its own client bidirectional stream, all on one QUIC connection; RFC 9000
        // §4.6: the client can only open more than our initial_max_streams_bidi (100) if we keep raising MAX_STREAMS.
        CancellationToken cancel = TestContext.Current.CancellationToken;
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        await using InteropTestServer server = await InteropTestServer.StartAsync(certificate, cancel);

        GtlsClientRun run = await GtlsClient.RunAsync(server, new GtlsClientOptions { Paths = ["/hello"], Requests = 1000 }, cancel);

        run.AssertAllOk(requests: 1000, server.Describe());
        IReadOnlyList<ObservedRequest> requests = server.Requests;
        Assert.True(requests.Count == 1000 && requests.All(r => r is { Protocol: "HTTP/3", Path: "/hello", StatusCode: 200 }), server.Describe());
        Assert.True(server.Counter("quicsteer.connections") == 1, "one connection expected\n" + server.Describe());
        Assert.True(server.Counter("quicsteer.handshakes") == 1, server.Describe());
        Assert.True(server.Counter("quicsteer.streams|bidirectional|client") == 1000, server.Describe());
    }

    [Fact]
    public async Task TenMegabytePostIsEchoedByteForByte()
    {
        // RFC 9114 §4.1: request body as DATA frames on the request stream, the response body back on the same stream;
        // RFC 9000 §4.1: both directions at once under stream and connection flow control (the echo handler reads
        // while it writes, so neither window may wedge the other).
        CancellationToken cancel = TestContext.Current.CancellationToken;
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        using TempDirectory temp = new("quicsteer-kestrel-echo-");
        string upload = temp.Combine("upload.bin");
        byte[] body = new byte[10 * 1024 * 1024];
        new Random(9114).NextBytes(body);
        await File.WriteAllBytesAsync(upload, body, cancel);
        await using InteropTestServer server = await InteropTestServer.StartAsync(certificate, cancel);

        GtlsClientRun run = await GtlsClient.RunAsync(server, new GtlsClientOptions
        {
            Paths = ["/echo"],
            UploadFile = upload,
            DownloadDirectory = temp.Combine("download"),
        }, cancel);

        string downloaded = temp.Combine("download/echo");
        long downloadedLength = File.Exists(downloaded) ? new FileInfo(downloaded).Length : -1;
        run.AssertAllOk(requests: 1, $"downloaded {downloadedLength} of {body.Length} bytes\n" + server.Describe());
        byte[] echoed = await File.ReadAllBytesAsync(downloaded, cancel);
        Assert.Equal(body.Length, echoed.Length);
        Assert.True(SHA256.HashData(body).AsSpan().SequenceEqual(SHA256.HashData(echoed)), "echoed bytes differ");
        Assert.Contains(server.Requests, r => r is { Protocol: "HTTP/3", Method: "POST", Path: "/echo", StatusCode: 200 });
    }

    [Fact]
    public async Task MigrationAndKeyUpdateDuringFiveMegabyteDownload()
    {
        // RFC 9001 §6: the client initiates a key update 5 ms after the handshake; we must answer with the next key phase
        // (ngtcp2 logs "key update confirmed" only when it receives our packets in the new phase).
        // RFC 9000 §9.2/§8.2: 10 ms after the handshake the client moves to a new local port and validates the path
        // (PATH_CHALLENGE/PATH_RESPONSE); the rest of the download must reach the new port.
        CancellationToken cancel = TestContext.Current.CancellationToken;
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        using TempDirectory temp = new("quicsteer-kestrel-migrate-");
        const long size = 5 * 1024 * 1024;
        await using InteropTestServer server = await InteropTestServer.StartAsync(certificate, cancel);

        GtlsClientRun run = await GtlsClient.RunAsync(server, new GtlsClientOptions
        {
            Paths = [$"/bytes/{size}"],
            DownloadDirectory = temp.Combine("download"),
            KeyUpdateAfter = "5ms",
            ChangeLocalAddressAfter = "10ms",
        }, cancel);

        string context = run.Description + server.Describe();
        run.AssertAllOk(requests: 1, server.Describe());
        string file = temp.Combine($"download/{size}");
        Assert.Equal(size, new FileInfo(file).Length);
        Assert.Equal(-1, SampleBytes.FirstMismatch(file));

        // Key update: initiated, and confirmed by packets from us in the new key phase (k=1).
        int initiated = run.IndexOf("Initiate key update");
        Assert.True(initiated >= 0, "no key update was initiated\n" + context);
        Assert.True(run.Lines.Skip(initiated).Any(l => l.EndsWith(" cry key update confirmed", StringComparison.Ordinal)),
            "key update not confirmed\n" + context);
        Assert.Contains(run.Lines, l => l.Contains(" pkt rx ", StringComparison.Ordinal) && l.EndsWith(" type=1RTT k=1", StringComparison.Ordinal));

        // Migration: new local address, path validated, then response data arrived on the new port, before the end.
        int changed = run.IndexOf("Local address is now ", prefix: true);
        Assert.True(changed >= 0, "the client never changed its local address\n" + context);
        string newPort = run.Lines[changed][(run.Lines[changed].LastIndexOf(':') + 1)..];
        int validated = run.IndexOf("Path validation against path {local:[127.0.0.1]:" + newPort, prefix: true);
        Assert.True(validated > changed && run.Lines[validated].EndsWith(" succeeded", StringComparison.Ordinal),
            "path validation did not succeed\n" + context);
        int closed = run.IndexOf("HTTP stream 0 closed with error code 256");
        Assert.True(closed > validated, "the download finished before the migration completed (nothing proven)\n" + context);
        string receivedOnNewPort = $"Received packet: local=[127.0.0.1]:{newPort} ";
        Assert.True(run.Lines.Skip(validated).Count(l => l.StartsWith(receivedOnNewPort, StringComparison.Ordinal)) > 10,
            "little or no data arrived on the migrated path\n" + context);
    }
}
