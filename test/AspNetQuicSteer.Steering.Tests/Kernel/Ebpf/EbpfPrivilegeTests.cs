using AspNetQuicSteer.TestSupport;
using AspNetQuicSteer.Steering.Kernel.Ebpf;

namespace AspNetQuicSteer.Steering.Tests.Kernel.Ebpf;

/// <summary>
/// Without root or CAP_BPF the eBPF dataplane cannot be created (kernel.unprivileged_bpf_disabled ≠ 0 refuses every
/// bpf(2) command with EPERM), and the refusal must say so. When the suite runs as root, the second test reruns the
/// first as user nobody in a child process (runuser(1) + this test assembly's own xUnit v3 entry point), the pattern
/// of <c>ReuseportUnprivilegedTests</c>.
/// </summary>
public sealed class EbpfPrivilegeTests
{
    /// <summary>
    /// Unprivileged, creating the dataplane fails with a typed EPERM. Run as root (the usual case here), the test runs
    /// itself again in a child process as user nobody, so the unprivileged path is what is checked either way.
    /// </summary>
    [Fact]
    public async Task Without_privileges_creating_the_dataplane_fails_with_a_typed_EPERM()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "bpf(2) is Linux-only");
        if (Environment.IsPrivilegedProcess)
        {
            await RerunAsNobodyAsync();
            return;
        }

        Assert.SkipWhen(UnprivilegedBpfDisabled() == "0",
            "kernel.unprivileged_bpf_disabled = 0: unprivileged bpf(2) is allowed here (REUSEPORT_SOCKARRAY still needs CAP_BPF)");
        TestContext.Current.TestOutputHelper?.WriteLine($"running as {Environment.UserName}");

        var error = Assert.Throws<BpfException>(() => EbpfReuseportDataplane.Create(new SteeringField(0), 8, new GenerationId(1)));
        TestContext.Current.TestOutputHelper?.WriteLine(error.Message);
        Assert.Equal(BpfException.EPERM, error.Errno);
        Assert.Equal("bpf(BPF_MAP_CREATE)", error.Operation);
        Assert.Contains("needs root or CAP_BPF", error.Message, StringComparison.Ordinal);
        Assert.Null(error.VerifierLog);
    }

    private static async Task RerunAsNobodyAsync()
    {
        Assert.SkipWhen(UnprivilegedBpfDisabled() == "0", "kernel.unprivileged_bpf_disabled = 0");
        string method = $"{typeof(EbpfPrivilegeTests).FullName}.{nameof(Without_privileges_creating_the_dataplane_fails_with_a_typed_EPERM)}";
        string output = await UnprivilegedRun.RunAsync("-method", method, expectedTotal: 1);
        Assert.Contains("needs root or CAP_BPF", output, StringComparison.Ordinal);
    }

    private static string UnprivilegedBpfDisabled()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/unprivileged_bpf_disabled").Trim();
        }
        catch (IOException)
        {
            return "?";
        }
    }
}
