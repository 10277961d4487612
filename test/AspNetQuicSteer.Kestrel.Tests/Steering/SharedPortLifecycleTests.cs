using System.Diagnostics;
using System.Net;
using AspNetQuicSteer.Client;
using AspNetQuicSteer.Steering.Coordination;

namespace AspNetQuicSteer.Kestrel.Tests.Steering;

/// <summary>
/// Issue 7's lifecycle around a rollover, with real sample-site processes: the health gate a new generation must pass
/// before it takes over, the drain of HTTP/1.1 and HTTP/2 connections next to HTTP/3's, and the drain timeout.
/// </summary>
[Collection(SharedPortProcesses.Name)]
public sealed class SharedPortLifecycleTests
{
    [Fact]
    public async Task A_new_generation_failing_its_health_gate_never_takes_over_and_the_running_one_keeps_serving()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Port steering is Linux-only.");
        using var port = new SharedPortFixture();
        await using SampleSiteProcess old = port.Start("v1", "ReuseportCbpf");
        await old.WaitForStateAsync("Active");
        Assert.Contains("Health gate passed", old.Output, StringComparison.Ordinal);

        // /healthz answers 503 in v2: the gate probes it over HTTP/3 on v2's private socket and gives up after 2 s.
        await using SampleSiteProcess broken = port.Start("v2", "ReuseportCbpf", environment: new Dictionary<string, string>
        {
            ["SampleSite__Unhealthy"] = "true",
            ["QuicSteering__HealthGate__Timeout"] = "00:00:02",
        });
        int brokenGeneration = await broken.Generation;
        var clock = Stopwatch.StartNew();
        while (!broken.HasExited && clock.Elapsed < TimeSpan.FromSeconds(8))
        {
            // While v2 is probed, every new connection still reaches v1 (v2 never became Ready or Active).
            Assert.Equal("v1", await port.VersionOverNewConnectionAsync());
        }

        Assert.NotEqual(0, await broken.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("GET /healthz over HTTP/3 answered 503", broken.Output, StringComparison.Ordinal);
        Assert.Contains("Health gate failed", broken.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("is now Active", broken.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("is now Draining", old.Output, StringComparison.Ordinal);

        StatusMessage status = await port.GetStatusAsync();
        Assert.Equal((byte)await old.Generation, status.ActiveGeneration?.Value);
        Assert.DoesNotContain(status.Generations, g => g.Generation.Value == brokenGeneration && g.State.IsLive());
        for (int i = 0; i < 5; i++) Assert.Equal("v1", await port.VersionOverNewConnectionAsync());

        // A healthy v3 then passes the same gate and takes over.
        await using SampleSiteProcess next = port.Start("v3", "ReuseportCbpf");
        await next.WaitForStateAsync("Active");
        Assert.Contains("Health gate passed", next.Output, StringComparison.Ordinal);
        Assert.Equal("v3", await port.VersionOverNewConnectionAsync());
    }

    [Fact]
    public async Task A_draining_generation_closes_http1_with_connection_close_and_http2_with_goaway_after_serving_the_request()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Port steering is Linux-only.");
        using var port = new SharedPortFixture();
        var lifecycle = new Dictionary<string, string>
        {
            ["QuicSteering__Transport__Probation"] = "00:00:01",
            ["QuicSteering__DrainTimeout"] = "00:00:20",
        };
        await using SampleSiteProcess old = port.Start("v1", "ReuseportCbpf", protocols: "Http1AndHttp2AndHttp3", environment: lifecycle);
        await old.WaitForStateAsync("Active");

        using var http1 = TcpClient(HttpVersion.Version11);
        using var http2 = TcpClient(HttpVersion.Version20);
        using (HttpResponseMessage first = await GetAsync(http1, port))
        {
            Assert.Equal("v1", Version(first));
            Assert.NotEqual(true, first.Headers.ConnectionClose); // keep-alive while v1 is active
        }

        using (HttpResponseMessage first = await GetAsync(http2, port)) Assert.Equal("v1", Version(first));

        // A request in flight on each TCP connection when v2 takes over: it must complete. The longer HTTP/3 one keeps
        // v1 draining (not yet exited) for a while.
        using HttpClient http3 = SharedPortFixture.Http3Client(new QuicSteeringHttp3HandlerOptions());
        Task<string> holdsV1 = http3.GetStringAsync($"https://127.0.0.1:{port.Port}/slow/6000", TestContext.Current.CancellationToken);
        Task<HttpResponseMessage> slow1 = http1.GetAsync($"https://127.0.0.1:{port.Port}/slow/3000", TestContext.Current.CancellationToken);
        Task<HttpResponseMessage> slow2 = http2.GetAsync($"https://127.0.0.1:{port.Port}/slow/3000", TestContext.Current.CancellationToken);
        await Task.Delay(300, TestContext.Current.CancellationToken);
        await using SampleSiteProcess next = port.Start("v2", "ReuseportCbpf", protocols: "Http1AndHttp2AndHttp3", environment: lifecycle);
        await next.WaitForStateAsync("Active");
        await old.WaitForStateAsync("Draining");

        // The HTTP/1.1 response in progress completes (its headers went out before the drain; v1 then closes the
        // connection, RFC 9112 §9.6).
        using (HttpResponseMessage response = await slow1.WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken))
        {
            Assert.Equal("v1", Version(response));
            Assert.EndsWith("done\n", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        }

        // RFC 9113 §6.8: HTTP/2 gets GOAWAY; the stream in flight completes.
        using (HttpResponseMessage response = await slow2.WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken))
        {
            Assert.Equal("v1", Version(response));
            Assert.EndsWith("done\n", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        }

        // Both processes accept on the shared TCP listener until v1 exits (an HTTP/3 request keeps it draining for a
        // few seconds here): any request v1 still answers, on a fresh connection, says "Connection: close" (the drain
        // middleware, RFC 9112 §9.6), and none fails.
        var served = new Dictionary<string, int>();
        var clock = Stopwatch.StartNew();
        while (!old.HasExited && clock.Elapsed < TimeSpan.FromSeconds(3))
        {
            foreach (Version protocol in new[] { HttpVersion.Version11, HttpVersion.Version20 })
            {
                using HttpClient fresh = TcpClient(protocol);
                using HttpResponseMessage response = await GetAsync(fresh, port);
                string version = Version(response);
                served[$"{version} HTTP/{protocol}"] = served.GetValueOrDefault($"{version} HTTP/{protocol}") + 1;
                if (version == "v1" && protocol == HttpVersion.Version11)
                {
                    Assert.True(response.Headers.ConnectionClose, "a request v1 served while draining kept its connection alive");
                }
            }
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"fresh TCP connections while v1 drained: {string.Join(", ", served.Select(p => $"{p.Key}: {p.Value}"))}");
        Assert.True(served.GetValueOrDefault("v1 HTTP/1.1") > 0, "no fresh HTTP/1.1 connection reached the draining v1; the Connection: close check did not run");
        Assert.EndsWith("done\n", await holdsV1.WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken), StringComparison.Ordinal);
        Assert.Equal(0, await old.WaitForExitAsync(TimeSpan.FromSeconds(25)));
        Assert.Contains("Generation drained (connections closed)", old.Output, StringComparison.Ordinal);
        using (HttpResponseMessage after = await GetAsync(http1, port)) Assert.Equal("v2", Version(after));
        using (HttpResponseMessage after = await GetAsync(http2, port)) Assert.Equal("v2", Version(after));
    }

    [Fact]
    public async Task At_the_drain_timeout_a_request_still_running_is_cancelled_with_H3_REQUEST_CANCELLED_and_the_generation_exits()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Port steering is Linux-only.");
        using var port = new SharedPortFixture();
        var lifecycle = new Dictionary<string, string>
        {
            ["QuicSteering__Transport__Probation"] = "00:00:01",
            ["QuicSteering__DrainTimeout"] = "00:00:02",
        };
        await using SampleSiteProcess old = port.Start("v1", "ReuseportCbpf", environment: lifecycle);
        await old.WaitForStateAsync("Active");

        using HttpClient client = SharedPortFixture.Http3Client(new QuicSteeringHttp3HandlerOptions { MaxRetries = 0 });
        using HttpResponseMessage response = await client.GetAsync($"https://127.0.0.1:{port.Port}/slow/30000", HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);
        Assert.Equal("v1", Version(response));
        Task<string> body = response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);

        await using SampleSiteProcess next = port.Start("v2", "ReuseportCbpf", environment: lifecycle);
        await next.WaitForStateAsync("Active");
        var drainClock = Stopwatch.StartNew();

        // RFC 9114 §4.1.1 and §8.1: the response was under way, so the server cancels it (not "rejected").
        Exception failure = await Assert.ThrowsAnyAsync<Exception>(() => body.WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken));
        TestContext.Current.TestOutputHelper?.WriteLine($"request failed {drainClock.Elapsed.TotalSeconds:0.0} s after v2 activated: {failure}");
        Http3RequestException? http3 = FindHttp3Exception(failure);
        Assert.NotNull(http3);
        Assert.Equal(0x10C, http3.ErrorCode);

        Assert.Equal(0, await old.WaitForExitAsync(TimeSpan.FromSeconds(15)));
        Assert.Contains("Generation drained (drain timeout)", old.Output, StringComparison.Ordinal);
        Assert.Contains("1 request(s) cancelled with H3_REQUEST_CANCELLED", old.Output, StringComparison.Ordinal);
        Assert.Equal("v2", await port.VersionOverNewConnectionAsync());
    }

    [Fact]
    public async Task A_configured_generation_id_is_used_and_a_second_process_asking_for_the_same_one_is_refused()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Port steering is Linux-only.");
        using var port = new SharedPortFixture();
        var asks42 = new Dictionary<string, string> { ["QuicSteering__Transport__GenerationId"] = "42" };
        await using SampleSiteProcess first = port.Start("v1", "ReuseportCbpf", environment: asks42);
        await first.WaitForStateAsync("Active");
        Assert.Equal(42, await first.Generation);
        StatusMessage status = await port.GetStatusAsync();
        Assert.Equal((byte)42, status.ActiveGeneration?.Value);

        // The ID is in every connection ID of its connections (ARCHITECTURE.md §5): a live holder makes the join fail.
        await using SampleSiteProcess duplicate = port.Start("v2", "ReuseportCbpf", environment: asks42);
        Assert.NotEqual(0, await duplicate.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("gen42 is in use by pid", duplicate.Output, StringComparison.Ordinal);
        Assert.Equal("v1", await port.VersionOverNewConnectionAsync());
    }

    private static Http3RequestException? FindHttp3Exception(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is Http3RequestException http3) return http3;
        }

        return null;
    }

    private static HttpClient TcpClient(Version version)
    {
        var handler = new SocketsHttpHandler
        {
            SslOptions = new System.Net.Security.SslClientAuthenticationOptions
            {
#pragma warning disable CA5359 // the sample's self-signed development certificate
                RemoteCertificateValidationCallback = static (_, _, _, _) => true,
#pragma warning restore CA5359
            },
        };
        return new HttpClient(handler) { DefaultRequestVersion = version, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact, Timeout = TimeSpan.FromSeconds(30) };
    }

    private static Task<HttpResponseMessage> GetAsync(HttpClient client, SharedPortFixture port) =>
        client.GetAsync($"https://127.0.0.1:{port.Port}/hello", TestContext.Current.CancellationToken);

    private static string Version(HttpResponseMessage response)
    {
        response.EnsureSuccessStatusCode();
        return response.Headers.GetValues("x-app-version").Single();
    }
}
