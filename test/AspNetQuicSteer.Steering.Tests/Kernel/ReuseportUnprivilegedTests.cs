using AspNetQuicSteer.TestSupport;

namespace AspNetQuicSteer.Steering.Tests.Kernel;

/// <summary>
/// The reuseport-cbpf dataplane must work without privileges (ARCHITECTURE.md §6: "none (same uid)"). When the suite
/// runs as root, this reruns <see cref="ReuseportKernelTests"/> in a child process as user nobody (runuser(1)), using
/// this test assembly's own xUnit v3 entry point. When the suite itself runs unprivileged (the usual CI case), the
/// kernel tests already cover it and this test is skipped.
/// </summary>
public sealed class ReuseportUnprivilegedTests
{
    [Fact]
    public async Task The_kernel_tests_pass_as_an_unprivileged_user()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "SO_ATTACH_REUSEPORT_CBPF is Linux-only");
        Assert.SkipUnless(Environment.IsPrivilegedProcess,
            "not root: the suite already runs unprivileged, so ReuseportKernelTests themselves are the unprivileged run");
        await UnprivilegedRun.RunAsync("-class", typeof(ReuseportKernelTests).FullName!);
    }
}
