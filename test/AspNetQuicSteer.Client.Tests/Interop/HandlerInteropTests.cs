using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using AspNetQuicSteer.Quic.Tests.Interop;

namespace AspNetQuicSteer.Client.Tests.Interop;

/// <summary>
/// The handler against real HTTP/3 servers (RFC 9114): ngtcp2's gtlsserver, with and without a forced Retry
/// (RFC 9000 §8.1.2), and a quic-go server. GETs, 100 concurrent requests on one connection (RFC 9114 §4.1: one
/// request per bidirectional stream), and 10 MB bodies each way with their bytes checked.
/// </summary>
[Collection(HandlerInteropGroup.Name)]
public sealed partial class HandlerInteropTests
{
    private const int TenMegabytes = 10 * 1024 * 1024;
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task GtlsServer_Get_Concurrent_Download_Upload(bool retry)
    {
        using TempDirectory temp = new();
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        byte[] big = PeerServers.Pattern(TenMegabytes);
        await using PeerProcess server = await PeerServers.StartGtlsServerAsync(temp, certificate, retry,
            new Dictionary<string, byte[]> { ["hello.txt"] = "hello over h3\n"u8.ToArray(), ["big.bin"] = big }, verbose: true);
        using var handler = new QuicSteeringHttp3Handler(Trusting(certificate));
        using var client = new HttpClient(handler) { BaseAddress = PeerServers.BaseUri(server), Timeout = s_timeout, DefaultRequestVersion = HttpVersion.Version30 };
        CancellationToken ct = TestContext.Current.CancellationToken;

        using (HttpResponseMessage hello = await client.GetAsync("hello.txt", ct))
        {
            Assert.Equal(HttpStatusCode.OK, hello.StatusCode);
            Assert.Equal(HttpVersion.Version30, hello.Version);
            Assert.Equal("hello over h3\n", await hello.Content.ReadAsStringAsync(ct));
        }

        string[] bodies = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => client.GetStringAsync("hello.txt", ct)));
        Assert.All(bodies, b => Assert.Equal("hello over h3\n", b));

        byte[] downloaded = await client.GetByteArrayAsync("big.bin", ct);
        Assert.True(big.AsSpan().SequenceEqual(downloaded), $"download differs ({downloaded.Length} bytes)");

        // gtlsserver reads and discards a request body, then answers with the file: the upload's bytes are checked
        // through the server's own log of what arrived on the stream (its final STREAM offset).
        byte[] upload = RandomNumberGenerator.GetBytes(TenMegabytes);
        using (HttpResponseMessage posted = await client.PostAsync("hello.txt", new ByteArrayContent(upload), ct))
        {
            Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
            Assert.Equal("hello over h3\n", await posted.Content.ReadAsStringAsync(ct));
        }

        QuicSteeringHttp3HandlerStatistics stats = handler.GetStatistics();
        Assert.Equal(1, stats.ConnectionsOpened); // everything multiplexed on one connection
        Assert.Equal(0, stats.RequestsFailed);
        // The server's log is read asynchronously: give its last lines a moment to arrive.
        for (int i = 0; i < 100 && LargestStreamEnd(server) < TenMegabytes; i++) await Task.Delay(50, ct);
        Assert.True(LargestStreamEnd(server) >= TenMegabytes, server.Describe(50));
    }

    [Fact]
    public async Task QuicGoServer_Get_Concurrent_Download_Upload()
    {
        using TempDirectory temp = new();
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        await using PeerProcess server = await PeerServers.StartQuicGoServerAsync(temp, certificate);
        using var handler = new QuicSteeringHttp3Handler(Trusting(certificate));
        using var client = new HttpClient(handler) { BaseAddress = PeerServers.BaseUri(server), Timeout = s_timeout };
        CancellationToken ct = TestContext.Current.CancellationToken;

        using (HttpResponseMessage hello = await client.GetAsync("hello", ct))
        {
            Assert.Equal(HttpStatusCode.OK, hello.StatusCode);
            Assert.Equal("text/plain; charset=utf-8", hello.Content.Headers.ContentType?.ToString());
            Assert.Equal("Hello from h3server over HTTP/3\n", await hello.Content.ReadAsStringAsync(ct));
        }

        byte[][] small = await Task.WhenAll(Enumerable.Range(0, 100).Select(i => client.GetByteArrayAsync($"bytes/{1000 + i}", ct)));
        for (int i = 0; i < small.Length; i++) Assert.Equal(PeerServers.Pattern(1000 + i), small[i]);

        byte[] downloaded = await client.GetByteArrayAsync($"bytes/{TenMegabytes}", ct);
        Assert.True(PeerServers.Pattern(TenMegabytes).AsSpan().SequenceEqual(downloaded), $"download differs ({downloaded.Length} bytes)");

        byte[] upload = RandomNumberGenerator.GetBytes(TenMegabytes);
        using HttpResponseMessage echoed = await client.PostAsync("echo", new ByteArrayContent(upload), ct);
        Assert.Equal(HttpStatusCode.OK, echoed.StatusCode);
        byte[] back = await echoed.Content.ReadAsByteArrayAsync(ct);
        Assert.True(upload.AsSpan().SequenceEqual(back), $"echo differs ({back.Length} bytes)");
        Assert.Equal(1, handler.GetStatistics().ConnectionsOpened);
    }

    [Fact]
    public async Task UntrustedCertificate_FailsTheHandshake_WithHandshakeException()
    {
        using TempDirectory temp = new();
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        await using PeerProcess server = await PeerServers.StartQuicGoServerAsync(temp, certificate);
        using var handler = new QuicSteeringHttp3Handler(new QuicSteeringHttp3HandlerOptions { ConnectTimeout = TimeSpan.FromSeconds(5) });
        using var client = new HttpClient(handler) { BaseAddress = PeerServers.BaseUri(server) };

        // RFC 8446 §4.4.2.4 with the system trust store: a self-signed test certificate is not trusted.
        Http3HandshakeException e = await Assert.ThrowsAsync<Http3HandshakeException>(() => client.GetAsync("hello", TestContext.Current.CancellationToken));
        Assert.Equal(HttpRequestError.SecureConnectionError, e.HttpRequestError);
        Assert.Equal(1, handler.GetStatistics().HandshakesFailed);
    }

    internal static QuicSteeringHttp3HandlerOptions Trusting(TestCertificate certificate) => new()
    {
        TrustedRootCertificates = [X509CertificateLoader.LoadCertificate(certificate.Certificate.RawData)],
    };

    /// <summary>The largest offset+length of a received STREAM frame on a client bidirectional stream in gtlsserver's log.</summary>
    private static long LargestStreamEnd(PeerProcess server)
    {
        long largest = 0;
        foreach (string line in server.StandardErrorLines)
        {
            Match m = StreamFrame().Match(line);
            if (!m.Success) continue;
            long end = long.Parse(m.Groups["offset"].Value, System.Globalization.CultureInfo.InvariantCulture)
                + long.Parse(m.Groups["length"].Value, System.Globalization.CultureInfo.InvariantCulture);
            largest = Math.Max(largest, end);
        }

        return largest;
    }

    [GeneratedRegex(@"frm rx \d+ 1RTT STREAM\(0x0[8-f]\) id=0x[0-9a-f]*[048c] fin=\d offset=(?<offset>\d+) len=(?<length>\d+) uni=0")]
    private static partial Regex StreamFrame();
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HandlerInteropGroup
{
    public const string Name = "Handler interop";
}
