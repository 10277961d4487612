using System.Diagnostics;
using AspNetQuicSteer.Client;
using AspNetQuicSteer.Steering.Coordination;

namespace AspNetQuicSteer.Kestrel.Tests.Steering;

/// <summary>
/// The draining generation (ARCHITECTURE.md invariant 3, groundwork of issue 7): when a newer generation activates,
/// the old one sends GOAWAY on every HTTP/3 connection at once, idle ones included (RFC 9114 §5.2), lets the
/// request in flight finish intact, and, once its connections have closed and the newer generation's probation is
/// over, stops its host and exits by itself, logging a summary.
/// </summary>
[Collection(SharedPortProcesses.Name)]
public sealed class SharedPortDrainTests
{
    private static readonly Dictionary<string, string> s_fastLifecycle = new()
    {
        ["QuicSteering__Transport__Probation"] = "00:00:01",
        ["QuicSteering__DrainTimeout"] = "00:00:20",
    };

    [Fact]
    public async Task The_old_generation_sends_goaway_lets_the_request_in_flight_finish_and_exits_by_itself()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Port steering is Linux-only.");
        using var port = new SharedPortFixture();
        await using SampleSiteProcess old = port.Start("v1", "ReuseportCbpf", environment: s_fastLifecycle);
        await old.WaitForStateAsync("Active");

        var idleHandler = new QuicSteeringHttp3Handler(Options());
        using HttpClient idleClient = SharedPortFixture.Http3Client(idleHandler);
        Assert.Equal("v1", await VersionAsync(idleClient, port));
        using HttpClient slowClient = SharedPortFixture.Http3Client(Options());
        // Issue 7: a 5 s streamed response started on v1 completes intact after v2 activates.
        var slowClock = Stopwatch.StartNew();
        Task<string> slow = slowClient.GetStringAsync($"https://127.0.0.1:{port.Port}/slow/5000", TestContext.Current.CancellationToken);
        await Task.Delay(300, TestContext.Current.CancellationToken);

        await using SampleSiteProcess next = port.Start("v2", "ReuseportCbpf", environment: s_fastLifecycle);
        await next.WaitForStateAsync("Active");
        TimeSpan activatedAt = slowClock.Elapsed;
        Assert.False(slow.IsCompleted, $"the slow response ended before v2 activated ({activatedAt.TotalMilliseconds:0} ms): nothing spanned the activation");
        await old.WaitForStateAsync("Draining");
        var drainClock = Stopwatch.StartNew();

        // The idle connection got GOAWAY at once; its next request moves to the new generation.
        for (int i = 0; i < 50 && idleHandler.GetStatistics().GoAwaysReceived == 0; i++) await Task.Delay(100, TestContext.Current.CancellationToken);
        Assert.Equal(1, idleHandler.GetStatistics().GoAwaysReceived);
        Assert.Equal("v2", await VersionAsync(idleClient, port));

        // The request in flight on the old generation completes intact (every line, then "done").
        string body = await slow.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        string[] lines = body.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("done", lines[^1]);
        Assert.True(lines.Length >= 30, $"only {lines.Length} lines");
        Assert.All(lines[..^1].Select((line, index) => (line, index)), l => Assert.StartsWith($"{l.index} ", l.line, StringComparison.Ordinal));
        Assert.EndsWith(" ms", lines[^2], StringComparison.Ordinal);
        Assert.True(int.Parse(lines[^2].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) >= 5000, $"the response stopped early: {lines[^2]}");
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"v2 Active {activatedAt.TotalMilliseconds:0} ms into the slow response, which ended intact after {slowClock.Elapsed.TotalMilliseconds:0} ms ({lines.Length} lines)");

        // Its connections done and the probation (1 s) over, the old generation exits by itself, well within the drain timeout.
        Assert.Equal(0, await old.WaitForExitAsync(TimeSpan.FromSeconds(25)));
        TestContext.Current.TestOutputHelper?.WriteLine($"old generation exited {drainClock.Elapsed.TotalSeconds:0.0} s after draining began");
        Assert.Contains("Generation drained (connections closed)", old.Output, StringComparison.Ordinal);
        Assert.Contains("draining: GOAWAY requested on", old.Output, StringComparison.Ordinal);

        // The old generation hosted the coordinator: the new one takes it over and re-joins as Active (give it a moment).
        byte nextGeneration = (byte)await next.Generation;
        StatusMessage status = await port.GetStatusAsync();
        for (int i = 0; i < 50 && status.ActiveGeneration?.Value != nextGeneration; i++)
        {
            await Task.Delay(100, TestContext.Current.CancellationToken);
            status = await port.GetStatusAsync();
        }

        Assert.Equal(nextGeneration, status.ActiveGeneration?.Value);
        byte oldGeneration = (byte)await old.Generation;
        Assert.DoesNotContain(status.Generations, g => g.Generation.Value == oldGeneration && g.State.IsLive());
        Assert.Equal("v2", await port.VersionOverNewConnectionAsync());
    }

    private static QuicSteeringHttp3HandlerOptions Options() => SharedPortFixture.AcceptSampleCertificate(new() { MaxRetries = 0 });

    private static async Task<string> VersionAsync(HttpClient client, SharedPortFixture port)
    {
        using HttpResponseMessage response = await client.GetAsync($"https://127.0.0.1:{port.Port}/hello", TestContext.Current.CancellationToken);
        response.EnsureSuccessStatusCode();
        return response.Headers.GetValues("x-app-version").Single();
    }
}
