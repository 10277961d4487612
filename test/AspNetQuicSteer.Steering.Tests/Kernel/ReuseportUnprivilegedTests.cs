using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using System.Text.RegularExpressions;

namespace AspNetQuicSteer.Steering.Tests.Kernel;

/// <summary>
/// The reuseport-cbpf dataplane must work without privileges (ARCHITECTURE.md §6: "none (same uid)"). When the suite
/// runs as root, this reruns <see cref="ReuseportKernelTests"/> in a child process as user nobody (runuser(1)), using
/// this test assembly's own xUnit v3 entry point. When the suite itself runs unprivileged (the usual CI case), the
/// kernel tests already cover it and this test is skipped.
/// </summary>
public sealed class ReuseportUnprivilegedTests
{
    private const string Nobody = "nobody";

    [Fact]
    public async Task The_kernel_tests_pass_as_an_unprivileged_user()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "SO_ATTACH_REUSEPORT_CBPF is Linux-only");
        Assert.SkipUnless(Environment.IsPrivilegedProcess,
            "not root: the suite already runs unprivileged, so ReuseportKernelTests themselves are the unprivileged run");
        string? runuser = new[] { "/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser" }.FirstOrDefault(File.Exists);
        Assert.SkipWhen(runuser is null, "runuser(1) not found; cannot switch to an unprivileged user");

        // The assembly's apphost: xUnit v3 test projects are executables with their own runner (-class, -noColor…).
        string apphost = Path.Combine(AppContext.BaseDirectory, typeof(ReuseportUnprivilegedTests).Assembly.GetName().Name!);
        Assert.SkipUnless(File.Exists(apphost), $"no apphost at {apphost}");
        Assert.SkipUnless(!OperatingSystem.IsWindows() && WorldReadable(AppContext.BaseDirectory),
            $"{AppContext.BaseDirectory} is not readable by {Nobody}; build outside a private directory to run this check");

        var start = new ProcessStartInfo(runuser!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = "/",
        };
        foreach (string argument in new[]
                 {
                     "-u", Nobody, "--", apphost,
                     "-class", typeof(ReuseportKernelTests).FullName!,
                     "-noColor", "-noLogo", "-showLiveOutput",
                 })
        {
            start.ArgumentList.Add(argument);
        }

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
        Assert.True(child.ExitCode == 0, $"the kernel tests failed as {Nobody} (exit {child.ExitCode}):\n{output}");
        // Every kernel test ran (none skipped), and as nobody.
        var summary = Regex.Match(output, @"Total: (\d+), Errors: 0, Failed: 0, Skipped: 0");
        Assert.True(summary.Success && int.Parse(summary.Groups[1].Value, CultureInfo.InvariantCulture) > 0, output);
        Assert.Contains($"running as {Nobody}", output, StringComparison.Ordinal);
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
