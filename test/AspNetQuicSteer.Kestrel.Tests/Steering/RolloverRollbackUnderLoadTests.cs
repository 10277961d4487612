using System.Diagnostics;
using AspNetQuicSteer.Steering.Coordination;

namespace AspNetQuicSteer.Kestrel.Tests.Steering;

/// <summary>
/// Issue 7 acceptance, rollback under load (ARCHITECTURE.md invariant 6): a new generation that crashes on probation
/// hands new connections back to its predecessor within a second, and nothing is lost but what the crashed process
/// held. SharedPortCrashTests covers the detection without traffic; here 4 connections x 8 concurrent requests run
/// throughout, so the rollover itself (GOAWAY, RFC 9114 §5.2, then new connections to v2) and the rollback are both
/// seen by a busy client.
/// </summary>
[Collection(SharedPortProcesses.Name)]
public sealed class RolloverRollbackUnderLoadTests
{
    private const int Connections = 4;
    private const int Concurrency = 8;

    // The probation outlasts the test, so v2 is still on probation when it dies and v1 is still there to take over;
    // the drain timeout too, or v1 would stop by itself while it waits.
    private static readonly Dictionary<string, string> s_longProbation = new()
    {
        ["QuicSteering__Transport__Probation"] = "00:00:30",
        ["QuicSteering__DrainTimeout"] = "00:01:00",
    };

    [Fact]
    public async Task Killing_v2_on_probation_under_load_reactivates_v1_within_a_second_and_loses_only_v2s_requests()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Port steering is Linux-only.");
        using var port = new SharedPortFixture();
        await using SampleSiteProcess v1 = port.Start("v1", "ReuseportCbpf", environment: s_longProbation);
        await v1.WaitForStateAsync("Active");
        byte v1Generation = (byte)await v1.Generation;

        await using HelloLoad load = HelloLoad.Start(port.Port, Connections, Concurrency);
        await load.WaitUntilAsync(r => EveryClient(r, c => c.Count(x => x.Version == "v1") >= 20), TimeSpan.FromSeconds(30), "every client served by v1");

        await using SampleSiteProcess v2 = port.Start("v2", "ReuseportCbpf", environment: s_longProbation);
        await v2.WaitForStateAsync("Active");
        await v1.WaitForStateAsync("Draining");
        byte v2Generation = (byte)await v2.Generation;

        // Every client has moved to a connection on v2 (v1's GOAWAY sent them there) and keeps it busy.
        await load.WaitUntilAsync(r => EveryClient(r, c => c.Count(x => x.Version == "v2") >= 50), TimeSpan.FromSeconds(30), "every client moved to v2");
        TimeSpan killedAt = load.Elapsed;
        var clock = Stopwatch.StartNew();
        v2.Kill(); // SIGKILL during probation: no Exited, no GOAWAY, its connections just stop answering

        StatusMessage status = await port.GetStatusAsync();
        while (status.ActiveGeneration?.Value != v1Generation && clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
            status = await port.GetStatusAsync();
        }

        TimeSpan rollback = clock.Elapsed;
        TimeSpan rolledBackAt = load.Elapsed;
        Assert.Equal(v1Generation, status.ActiveGeneration?.Value);
        Assert.DoesNotContain(status.Generations, g => g.Generation.Value == v2Generation && g.State.IsLive());

        // Let the load find its way back to v1 and stay there for a while.
        await load.WaitUntilAsync(
            r => EveryClient(r, c => c.Count(x => x.Version == "v1" && x.Started > rolledBackAt) >= 50), TimeSpan.FromSeconds(30), "every client back on v1");
        IReadOnlyList<HelloResult> results = await load.StopAsync();
        string summary = load.Describe();
        HelloResult[] failures = [.. results.Where(r => !r.Succeeded)];
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"rollback: v1 Active again {rollback.TotalMilliseconds:0} ms after SIGKILL of v2; {failures.Length} failed request(s) of {results.Count}; "
            + $"bound {Connections * Concurrency} (what v2's {Connections} connections could hold); the last failed "
            + $"{(failures.Length == 0 ? 0 : (failures.Max(f => f.Ended) - killedAt).TotalMilliseconds):0} ms after the kill\n{summary}");
        Assert.True(rollback < TimeSpan.FromSeconds(1), $"v1 Active again only {rollback.TotalMilliseconds:0} ms after the kill\n{summary}");

        // The rollover itself lost nothing: until the kill, every request succeeded (v1, then v2 after GOAWAY).
        Assert.True(failures.All(f => f.Ended >= killedAt), $"requests failed before v2 was killed\n{summary}");

        // Only what v2 held is lost: requests on its connections at the kill, at most one per worker. More means a
        // client went on sending new requests into a connection to the dead v2: a client with nothing unacknowledged
        // to retransmit stays silent, so v1 cannot answer it with a stateless reset (RFC 9000 §10.3) until it sends.
        // A client that was still on a v1 connection (served by v1 last before the kill) must lose nothing.
        Assert.True(failures.Length <= Connections * Concurrency, $"{failures.Length} failures > {Connections * Concurrency}\n{summary}");
        foreach (IGrouping<int, HelloResult> client in failures.GroupBy(f => f.Client))
        {
            string? lastBeforeKill = results.Where(r => r.Client == client.Key && r.Succeeded && r.Ended < killedAt).MaxBy(r => r.Ended)?.Version;
            Assert.True(lastBeforeKill == "v2", $"client {client.Key} was on {lastBeforeKill} at the kill and lost {client.Count()} request(s)\n{summary}");
            Assert.True(client.Count() <= Concurrency, $"client {client.Key} lost {client.Count()} request(s), more than its {Concurrency} in flight\n{summary}");
        }

        // Once a client has reconnected, it is served by v1 only; so is every new connection (invariant 2 after rollback).
        foreach (IGrouping<int, HelloResult> client in results.GroupBy(r => r.Client))
        {
            TimeSpan lastFailure = client.Where(r => !r.Succeeded).Select(r => r.Ended).DefaultIfEmpty(killedAt).Max();
            Assert.All(client.Where(r => r.Succeeded && r.Started > lastFailure), r => Assert.Equal("v1", r.Version));
        }

        for (int i = 0; i < 5; i++) Assert.Equal("v1", await port.VersionOverNewConnectionAsync());
    }

    private static bool EveryClient(IReadOnlyList<HelloResult> results, Func<IEnumerable<HelloResult>, bool> condition)
    {
        ILookup<int, HelloResult> byClient = results.ToLookup(r => r.Client);
        return Enumerable.Range(0, Connections).All(c => condition(byClient[c]));
    }
}
