using System.Diagnostics;
using AspNetQuicSteer.Client;
using AspNetQuicSteer.Steering.Coordination;

namespace AspNetQuicSteer.Kestrel.Tests.Steering;

/// <summary>
/// Issue 7 acceptance: a draining generation that dies (SIGKILL, e.g. an operator or the OOM killer) takes only its own
/// connections with it. v1 hosts the port's coordinator (the first generation does) and still holds a long response
/// when v2 activates; killing it must leave v2's load untouched: v2 takes the coordinator over and stays Active
/// (ARCHITECTURE.md §6 takeover, invariant 2), and its connections never notice.
/// </summary>
[Collection(SharedPortProcesses.Name)]
public sealed class RolloverKillDrainingTests
{
    // v1 must still be draining when it is killed: the probation and drain timeout outlast the test.
    private static readonly Dictionary<string, string> s_slowDrain = new()
    {
        ["QuicSteering__Transport__Probation"] = "00:00:30",
        ["QuicSteering__DrainTimeout"] = "00:01:00",
    };

    [Theory]
    [InlineData("ReuseportCbpf")]
    [InlineData("Forwarding")]
    public async Task Killing_the_draining_v1_leaves_v2_and_its_load_unaffected(string dataplane)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Port steering is Linux-only.");
        CancellationToken cancel = TestContext.Current.CancellationToken;
        using var port = new SharedPortFixture();
        await using SampleSiteProcess v1 = port.Start("v1", dataplane, environment: s_slowDrain);
        await v1.WaitForStateAsync("Active");
        byte v1Generation = (byte)await v1.Generation;

        // A long streamed response in flight on v1 keeps it draining (a connection it must not drop by itself).
        using HttpClient slowClient = SharedPortFixture.Http3Client(new QuicSteeringHttp3HandlerOptions { ReadIdleTimeout = TimeSpan.FromSeconds(5) });
        using HttpResponseMessage slow = await slowClient.GetAsync($"https://127.0.0.1:{port.Port}/slow/30000", HttpCompletionOption.ResponseHeadersRead, cancel);
        Assert.Equal("v1", slow.Headers.GetValues("x-app-version").Single());
        Task<string> slowBody = slow.Content.ReadAsStringAsync(cancel);

        await using SampleSiteProcess v2 = port.Start("v2", dataplane, environment: s_slowDrain);
        await v2.WaitForStateAsync("Active");
        await v1.WaitForStateAsync("Draining");
        byte v2Generation = (byte)await v2.Generation;

        await using HelloLoad load = HelloLoad.Start(port.Port);
        await load.WaitUntilAsync(r => r.GroupBy(x => x.Client).Count(c => c.Count(x => x.Succeeded) >= 50) == load.Connections, TimeSpan.FromSeconds(30), "every client served");
        Assert.False(slowBody.IsCompleted, "the slow response on v1 ended before v1 was killed");
        Assert.False(v1.HasExited, "v1 exited by itself while it still had a response in flight");

        TimeSpan killedAt = load.Elapsed;
        var clock = Stopwatch.StartNew();
        v1.Kill(); // SIGKILL: v1 hosted the coordinator, whose socket now just closes

        // v2 takes the coordinator over and re-joins as Active; the load runs on meanwhile.
        for (int i = 0; i < 200 && !v2.Output.Contains("re-joined the port's coordinator as Active (now hosting it)", StringComparison.Ordinal); i++) await Task.Delay(50, cancel);
        TimeSpan takeover = clock.Elapsed;
        Assert.Contains("re-joined the port's coordinator as Active (now hosting it)", v2.Output, StringComparison.Ordinal);
        TimeSpan takenOverAt = load.Elapsed;
        // Two more seconds of load: the survivor reprograms steering for the socket order the kill left behind.
        await load.WaitUntilAsync(
            r => load.Elapsed > takenOverAt + TimeSpan.FromSeconds(2)
                && r.GroupBy(x => x.Client).Count(c => c.Count(x => x.Succeeded && x.Started > takenOverAt) >= 50) == load.Connections,
            TimeSpan.FromSeconds(30), "every client served for 2 s after the takeover");
        IReadOnlyList<HelloResult> results = await load.StopAsync();
        string summary = load.Describe();
        string slowOutcome = await OutcomeAsync(slowBody);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{dataplane}: v2 hosts the coordinator {takeover.TotalMilliseconds:0} ms after v1's SIGKILL (load at {killedAt.TotalMilliseconds:0} ms); "
            + $"v1's slow response: {slowOutcome}\n{summary}");

        // v2's load lost nothing and never saw v1: its connections are v2's and stay v2's.
        Assert.True(results.All(r => r.Succeeded), $"requests on v2 failed after v1 was killed\n{summary}");
        Assert.All(results, r => Assert.Equal("v2", r.Version));
        Assert.True(results.Count(r => r.Started > killedAt) >= 200, $"too little load after the kill\n{summary}");

        // The group: v2 Active (re-hosted coordinator), v1 not live; new connections get v2.
        StatusMessage status = await port.GetStatusAsync();
        for (int i = 0; i < 50 && status.ActiveGeneration?.Value != v2Generation; i++)
        {
            await Task.Delay(100, cancel);
            status = await port.GetStatusAsync();
        }

        Assert.Equal(v2Generation, status.ActiveGeneration?.Value);
        Assert.DoesNotContain(status.Generations, g => g.Generation.Value == v1Generation && g.State.IsLive());
        for (int i = 0; i < 5; i++) Assert.Equal("v2", await port.VersionOverNewConnectionAsync());
    }

    /// <summary>What became of the response v1 was streaming (it died with v1; only logged).</summary>
    private static async Task<string> OutcomeAsync(Task<string> body)
    {
        try
        {
            string text = await body.WaitAsync(TimeSpan.FromSeconds(15), TestContext.Current.CancellationToken);
            return $"ended after {text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length} line(s)";
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TimeoutException or TaskCanceledException)
        {
            return $"{e.GetType().Name}: {e.Message}";
        }
    }
}
