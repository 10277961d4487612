using System.Net;
using System.Security.Cryptography;
using AspNetQuicSteer.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace AspNetQuicSteer.Kestrel.Tests.Hosting;

/// <summary>
/// The documented WebApplicationFactory pattern: samples/SampleSite on real Kestrel and our QUIC transport, called
/// through the project's own HTTP/3 handler (<see cref="QuicSteeringWebApplicationFactory{TEntryPoint}.CreateHttp3Client"/>).
/// </summary>
[Collection(SequentialHostingTests.Name)]
public sealed class SampleSiteHttp3HandlerTests
{
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    /// <summary>RFC 9114 §3.1 / §4.1: /hello over HTTP/3, and the app saw HTTP/3.</summary>
    [Fact]
    public async Task Hello_over_the_HTTP3_handler_says_HTTP3()
    {
        await using SampleSiteFactory site = new();
        site.StartServer();
        using HttpClient client = site.CreateHttp3Client();

        using HttpResponseMessage response = await client.GetAsync("/hello", Cancellation);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version30, response.Version);
        Assert.Equal($"Hello from {SampleSiteFactory.Version} over HTTP/3\n", await response.Content.ReadAsStringAsync(Cancellation));
    }

    /// <summary>RFC 9114 §4.1: bodies both ways in DATA frames, a streamed response, and many requests on one connection.</summary>
    [Fact]
    public async Task Bytes_echo_and_slow_round_trip_over_one_connection()
    {
        await using SampleSiteFactory site = new();
        site.StartServer();
        using HttpClient client = site.CreateHttp3Client();

        byte[] bytes = await client.GetByteArrayAsync("/bytes/1000000", Cancellation);
        Assert.Equal(1_000_000, bytes.Length);
        for (int i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] != (byte)(i % 251)) Assert.Fail($"Byte {i} is {bytes[i]}.");
        }

        byte[] upload = RandomNumberGenerator.GetBytes(3_000_000);
        using (HttpResponseMessage echo = await client.PostAsync("/echo", new ByteArrayContent(upload), Cancellation))
        {
            Assert.Equal(HttpStatusCode.OK, echo.StatusCode);
            Assert.Equal(upload, await echo.Content.ReadAsByteArrayAsync(Cancellation));
        }

        string[] hellos = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => client.GetStringAsync("/hello", Cancellation)));
        Assert.All(hellos, h => Assert.EndsWith("over HTTP/3\n", h, StringComparison.Ordinal));
        using HttpResponseMessage slow = await client.GetAsync("/slow/300", Cancellation);
        Assert.Equal(HttpStatusCode.OK, slow.StatusCode);
        Assert.Equal("HTTP/3", await site.Probe.Started.WaitAsync(TimeSpan.FromSeconds(5), Cancellation));
    }

    /// <summary>
    /// RFC 9114 §4.1: request and response bodies stream independently. /echo answers as the body arrives, so each
    /// chunk written to the request comes back before the next one is written; nothing is buffered whole.
    /// </summary>
    [Fact]
    public async Task Echo_streams_both_bodies_chunk_by_chunk()
    {
        await using SampleSiteFactory site = new();
        site.StartServer();
        using HttpClient client = site.CreateHttp3Client();
        var pipe = new System.IO.Pipelines.Pipe();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/echo") { Content = new StreamContent(pipe.Reader.AsStream()) };

        // Servers may hold the response headers until the first body write (Kestrel, quic-go do): send the first
        // chunk before waiting for them.
        Task<HttpResponseMessage> sending = client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Cancellation);
        byte[] buffer = new byte[64];
        await pipe.Writer.WriteAsync(Chunk(0), Cancellation);
        using HttpResponseMessage response = await sending.WaitAsync(TimeSpan.FromSeconds(10), Cancellation);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await using Stream body = await response.Content.ReadAsStreamAsync(Cancellation);
        for (int round = 0; round < 5; round++)
        {
            byte[] chunk = Chunk(round);
            if (round > 0) await pipe.Writer.WriteAsync(chunk, Cancellation);
            int read = 0;
            while (read < chunk.Length)
            {
                int n = await body.ReadAsync(buffer.AsMemory(read, chunk.Length - read), Cancellation).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Cancellation);
                Assert.NotEqual(0, n);
                read += n;
            }

            Assert.Equal(chunk, buffer[..chunk.Length]);
        }

        await pipe.Writer.CompleteAsync();
        Assert.Equal(0, await body.ReadAsync(buffer, Cancellation));

        static byte[] Chunk(int round) => [.. Enumerable.Repeat((byte)('a' + round), 10)];
    }

    /// <summary>
    /// RFC 9114 §5.2: the server closes connections (GOAWAY) while requests are in flight. Requests the server did not
    /// process are retried on a new connection; none is lost.
    /// </summary>
    [Fact]
    public async Task GOAWAY_mid_load_loses_no_request()
    {
        var goAways = new GoAwayEveryNthRequest(25);
        await using SampleSiteFactory site = new()
        {
            ConfigureTestServices = services => services.AddSingleton<IStartupFilter>(goAways),
        };
        site.StartServer();
        using var handler = new QuicSteeringHttp3Handler(new QuicSteeringHttp3HandlerOptions
        {
            TrustedRootCertificates = [System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(site.Certificate.Certificate.RawData)],
            MaxConnectionsPerOrigin = 2,
        });
        using var client = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{site.Port}/") };

        int completed = 0;
        await Task.WhenAll(Enumerable.Range(0, 16).Select(async worker =>
        {
            for (int i = 0; i < 40; i++)
            {
                string body = await client.GetStringAsync($"/hello?w={worker}&i={i}", Cancellation);
                Assert.EndsWith("over HTTP/3\n", body, StringComparison.Ordinal);
                Interlocked.Increment(ref completed);
            }
        }));

        QuicSteeringHttp3HandlerStatistics stats = handler.GetStatistics();
        Assert.Equal(640, completed);
        Assert.Equal(0, stats.RequestsFailed);
        Assert.True(goAways.Requested >= 10, $"only {goAways.Requested} closes requested");
        Assert.True(stats.GoAwaysReceived >= 5, $"stats: {stats}");
        Assert.True(stats.ConnectionsOpened >= 5, $"stats: {stats}");
        TestContext.Current.SendDiagnosticMessage($"GOAWAY load: {stats}");
    }

    /// <summary>Every Nth request asks Kestrel to close its connection gracefully (IConnectionLifetimeNotificationFeature → GOAWAY).</summary>
    private sealed class GoAwayEveryNthRequest(int n) : IStartupFilter
    {
        private int _count;
        private int _requested;

        public int Requested => Volatile.Read(ref _requested);

        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (HttpContext context, RequestDelegate nextMiddleware) =>
            {
                if (Interlocked.Increment(ref _count) % n == 0 && context.Features.Get<IConnectionLifetimeNotificationFeature>() is { } lifetime)
                {
                    lifetime.RequestClose();
                    Interlocked.Increment(ref _requested);
                }

                await nextMiddleware(context);
            });
            next(app);
        };
    }
}
