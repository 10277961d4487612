using AspNetQuicSteer.Steering.Coordination;
using AspNetQuicSteer.TestSupport;

namespace AspNetQuicSteer.Kestrel.Tests.Steering;

/// <summary>
/// Issue 6 acceptance: two real sample-site processes (two generations) on one loopback UDP port. After the second
/// activates, every long-header packet reaches it and every short-header packet reaches the generation its CID
/// names (ARCHITECTURE.md §4 invariants 1–2, §6), counted per process by the coordinator's status view. In the
/// kernel dataplanes the kernel alone gets it right (nothing forwarded); in forwarding mode (one handed-over socket,
/// no SO_REUSEPORT) whichever process reads a datagram forwards it to its owner.
/// </summary>
[Collection(SharedPortProcesses.Name)]
public sealed class SharedPortDeliveryTests
{
    private const int PacketsPerPhase = 200;

    [Fact]
    public async Task Reuseport_cbpf_as_an_unprivileged_user_delivers_every_packet_to_its_generation()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "SO_REUSEPORT programs are Linux-only.");
        if (Environment.UserName == "root")
        {
            await UnprivilegedRun.RunAsync("-method", $"{typeof(SharedPortDeliveryTests).FullName}.{nameof(Reuseport_cbpf_as_an_unprivileged_user_delivers_every_packet_to_its_generation)}", expectedTotal: 1);
            return;
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"running as {Environment.UserName}");
        await DeliveryAsync("ReuseportCbpf", "reuseport-cbpf");
    }

    [Fact]
    public async Task Reuseport_ebpf_as_root_delivers_every_packet_to_its_generation()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "SK_REUSEPORT programs are Linux-only.");
        Assert.SkipUnless(Environment.UserName == "root", "loading eBPF needs root or CAP_BPF; the suite runs as root in CI");
        await DeliveryAsync("ReuseportEbpf", "reuseport-ebpf");
    }

    [Fact]
    public async Task Forwarding_without_reuseport_delivers_every_packet_to_its_generation()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Unix-socket forwarding and SCM_RIGHTS handoff are Linux-only here.");
        await DeliveryAsync("Forwarding", "forwarding");
    }

    private static async Task DeliveryAsync(string dataplane, string displayName)
    {
        using var port = new SharedPortFixture();
        await using SampleSiteProcess old = port.Start("v1", dataplane);
        await old.WaitForStateAsync("Active");
        await using SampleSiteProcess next = port.Start("v2", dataplane);
        await next.WaitForStateAsync("Active");
        await old.WaitForStateAsync("Draining");
        int oldGeneration = await old.Generation, newGeneration = await next.Generation;
        Assert.Contains($"in {displayName} mode", old.Output, StringComparison.Ordinal);
        Assert.Contains($"in {displayName} mode (adopted from gen{oldGeneration}", next.Output, StringComparison.Ordinal);
        int[] both = [oldGeneration, newGeneration];
        bool kernelSteers = dataplane != "Forwarding";

        // Invariant 2: after activation every new connection's packets (long headers) go to the new generation.
        var longHeaders = await port.SendAndCountAsync(SharedPortFixture.LongHeaderPacket, PacketsPerPhase, both);
        Report("long headers", longHeaders);
        Assert.Equal((ulong)PacketsPerPhase, longHeaders[newGeneration].Routed);
        Assert.Equal(0UL, longHeaders[oldGeneration].Routed);

        // Short headers go to the generation their connection ID names, old and new alike.
        foreach (int owner in both)
        {
            var shortHeaders = await port.SendAndCountAsync(() => SharedPortFixture.ShortHeaderPacket(owner), PacketsPerPhase, both);
            Report($"short headers of gen{owner}", shortHeaders);
            Assert.Equal((ulong)PacketsPerPhase, shortHeaders[owner].Routed);
            Assert.Equal(0UL, shortHeaders[both.Single(g => g != owner)].Routed);
            if (kernelSteers) Assert.All(both, g => Assert.Equal(0UL, shortHeaders[g].Forwarded));
            Assert.All(both, g => Assert.Equal(0UL, shortHeaders[g].Dropped));
        }

        if (kernelSteers)
        {
            // The kernel program did it alone: nothing needed the forwarding path.
            Assert.All(both, g => Assert.Equal(0UL, longHeaders[g].Forwarded));
        }

        StatusMessage status = await port.GetStatusAsync();
        Assert.Equal((byte)newGeneration, status.ActiveGeneration?.Value);
    }

    private static void Report(string phase, Dictionary<int, GenerationCounters> counts) =>
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{phase}: " + string.Join("; ", counts.Select(c => $"gen{c.Key} routed {c.Value.Routed}, forwarded {c.Value.Forwarded}, dropped {c.Value.Dropped}")));
}
