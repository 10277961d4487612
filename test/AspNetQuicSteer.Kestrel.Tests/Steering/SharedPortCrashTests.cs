using System.Diagnostics;
using AspNetQuicSteer.Steering.Coordination;

namespace AspNetQuicSteer.Kestrel.Tests.Steering;

/// <summary>
/// Issue 6 acceptance: a crashed generation is detected within 1 s (its control connection drops, the coordinator
/// marks it Dead; ARCHITECTURE.md §6 crash detection), and a new generation that dies on probation hands new
/// connections back to its predecessor (invariant 6), which reprograms the kernel.
/// </summary>
[Collection(SharedPortProcesses.Name)]
public sealed class SharedPortCrashTests
{
    [Theory]
    [InlineData("ReuseportCbpf")]
    [InlineData("Forwarding")]
    public async Task A_killed_generation_is_dead_within_a_second_and_its_predecessor_takes_new_connections_back(string dataplane)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Port steering is Linux-only.");
        using var port = new SharedPortFixture();
        await using SampleSiteProcess old = port.Start("v1", dataplane);
        await old.WaitForStateAsync("Active");
        await using SampleSiteProcess next = port.Start("v2", dataplane);
        await next.WaitForStateAsync("Active");
        await old.WaitForStateAsync("Draining");
        int newGeneration = await next.Generation;
        Assert.Equal("v2", await port.VersionOverNewConnectionAsync());

        var clock = Stopwatch.StartNew();
        next.Kill(); // SIGKILL: no Exited, no cleanup
        GenerationState? state = null;
        while (clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            StatusMessage status = await port.GetStatusAsync();
            state = status.Generations.FirstOrDefault(g => g.Generation.Value == newGeneration).State;
            if (state == GenerationState.Dead) break;
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        TimeSpan detected = clock.Elapsed;
        TestContext.Current.TestOutputHelper?.WriteLine($"{dataplane}: gen{newGeneration} seen Dead {detected.TotalMilliseconds:0} ms after SIGKILL");
        Assert.Equal(GenerationState.Dead, state);
        Assert.True(detected < TimeSpan.FromSeconds(1), $"crash detected after {detected.TotalMilliseconds:0} ms");

        // Rollback: the predecessor is active again and serves every new connection.
        await old.WaitForStateAsync("Active", TimeSpan.FromSeconds(5));
        for (int i = 0; i < 10; i++) Assert.Equal("v1", await port.VersionOverNewConnectionAsync());
    }
}
