using AspNetQuicSteer.Steering.Coordination;

namespace AspNetQuicSteer.Kestrel.Tests.Steering;

/// <summary>
/// The first generation hosts the port's coordinator and is also the first to leave. When it exits, a surviving
/// generation takes the coordinator over and the group goes on: the next generation adopts the port's settings
/// from a survivor, activates, and the kernel's socket order (the leaver's slot refilled by the last socket) is
/// followed by the new program.
/// </summary>
[Collection(SharedPortProcesses.Name)]
public sealed class SharedPortTakeoverTests
{
    [Theory]
    [InlineData("ReuseportCbpf")]
    [InlineData("Forwarding")]
    public async Task When_the_hosting_generation_exits_the_group_carries_on_with_a_third_generation(string dataplane)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Port steering is Linux-only.");
        using var port = new SharedPortFixture();
        SampleSiteProcess first = port.Start("v1", dataplane);
        await first.WaitForStateAsync("Active");
        await using SampleSiteProcess second = port.Start("v2", dataplane);
        await second.WaitForStateAsync("Active");
        int secondGeneration = await second.Generation;

        await first.DisposeAsync(); // SIGTERM: the host leaves cleanly
        Assert.Contains("leaves:", first.Output, StringComparison.Ordinal);
        for (int i = 0; i < 100 && !second.Output.Contains("now hosting it", StringComparison.Ordinal); i++) await Task.Delay(50, TestContext.Current.CancellationToken);
        Assert.Contains("re-joined the port's coordinator as Active (now hosting it)", second.Output, StringComparison.Ordinal);
        for (int i = 0; i < 5; i++) Assert.Equal("v2", await port.VersionOverNewConnectionAsync());

        await using SampleSiteProcess third = port.Start("v3", dataplane);
        await third.WaitForStateAsync("Active");
        await second.WaitForStateAsync("Draining");
        Assert.Contains($"(adopted from gen{secondGeneration}", third.Output, StringComparison.Ordinal);
        for (int i = 0; i < 10; i++) Assert.Equal("v3", await port.VersionOverNewConnectionAsync());

        // Short headers of the surviving old generation still reach it (socket order followed after the host left).
        int thirdGeneration = await third.Generation;
        var counts = await port.SendAndCountAsync(() => SharedPortFixture.ShortHeaderPacket(secondGeneration), 100, [secondGeneration, thirdGeneration]);
        Assert.Equal(100UL, counts[secondGeneration].Routed);
        Assert.Equal(0UL, counts[thirdGeneration].Routed);
        if (dataplane != "Forwarding") Assert.Equal(0UL, counts[thirdGeneration].Forwarded);

        StatusMessage status = await port.GetStatusAsync();
        Assert.Equal((byte)thirdGeneration, status.ActiveGeneration?.Value);
    }
}
