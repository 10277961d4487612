using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using System.Text.RegularExpressions;
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
    private const string Nobody = "nobody";

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
        string? runuser = new[] { "/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser" }.FirstOrDefault(File.Exists);
        Assert.SkipWhen(runuser is null, "runuser(1) not found; cannot switch to an unprivileged user");
        string apphost = Path.Combine(AppContext.BaseDirectory, typeof(EbpfPrivilegeTests).Assembly.GetName().Name!);
        Assert.SkipUnless(File.Exists(apphost), $"no apphost at {apphost}");
        Assert.SkipUnless(!OperatingSystem.IsWindows() && WorldReadable(AppContext.BaseDirectory),
            $"{AppContext.BaseDirectory} is not readable by {Nobody}");

        var start = new ProcessStartInfo(runuser!) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/" };
        string method = $"{typeof(EbpfPrivilegeTests).FullName}.{nameof(Without_privileges_creating_the_dataplane_fails_with_a_typed_EPERM)}";
        foreach (string argument in new[] { "-u", Nobody, "--", apphost, "-method", method, "-noColor", "-noLogo", "-showLiveOutput" })
            start.ArgumentList.Add(argument);

        using var child = Process.Start(start)!;
        var stdout = child.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = child.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(2));
        try
        {
            await child.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            child.Kill(entireProcessTree: true);
            throw;
        }

        string output = await stdout + await stderr;
        TestContext.Current.TestOutputHelper?.WriteLine(output);
        Assert.True(child.ExitCode == 0, $"the EPERM check failed as {Nobody} (exit {child.ExitCode}):\n{output}");
        var summary = Regex.Match(output, @"Total: (\d+), Errors: 0, Failed: 0, Skipped: 0");
        Assert.True(summary.Success && int.Parse(summary.Groups[1].Value, CultureInfo.InvariantCulture) == 1, output);
        Assert.Contains($"running as {Nobody}", output, StringComparison.Ordinal);
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

    [UnsupportedOSPlatform("windows")]
    private static bool WorldReadable(string directory)
    {
        for (var current = new DirectoryInfo(directory); current is not null; current = current.Parent)
        {
            if ((File.GetUnixFileMode(current.FullName) & UnixFileMode.OtherExecute) == 0) return false;
        }

        return (File.GetUnixFileMode(directory) & UnixFileMode.OtherRead) != 0;
    }
}
