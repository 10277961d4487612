using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using System.Text.RegularExpressions;

namespace AspNetQuicSteer.TestSupport;

/// <summary>
/// Reruns tests of this assembly as user nobody (runuser(1)) through the assembly's own xUnit v3 entry point, so a
/// suite that runs as root still checks the unprivileged path. Linked into each test project that needs it. Skips, with the reason, where that cannot work.
/// </summary>
internal static class UnprivilegedRun
{
    public const string User = "nobody";

    /// <summary>Runs the xUnit filter (e.g. <c>-class X</c>, <c>-method X.Y</c>) as nobody; returns its output after asserting every test passed.</summary>
    public static async Task<string> RunAsync(string filterOption, string filterValue, int? expectedTotal = null)
    {
        string? runuser = new[] { "/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser" }.FirstOrDefault(File.Exists);
        Assert.SkipWhen(runuser is null, "runuser(1) not found; cannot switch to an unprivileged user");
        string apphost = Path.Combine(AppContext.BaseDirectory, System.Reflection.Assembly.GetEntryAssembly()?.GetName().Name ?? typeof(UnprivilegedRun).Assembly.GetName().Name!);
        Assert.SkipUnless(File.Exists(apphost), $"no apphost at {apphost}");
        Assert.SkipUnless(!OperatingSystem.IsWindows() && WorldReadable(AppContext.BaseDirectory),
            $"{AppContext.BaseDirectory} is not readable by {User}; build outside a private directory to run this check");

        var start = new ProcessStartInfo(runuser!) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/" };
        foreach (string argument in new[] { "-u", User, "--", apphost, filterOption, filterValue, "-noColor", "-noLogo", "-showLiveOutput" })
        {
            start.ArgumentList.Add(argument);
        }

        using var child = Process.Start(start)!;
        var stdout = child.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = child.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(4));
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
        Assert.True(child.ExitCode == 0, $"the tests failed as {User} (exit {child.ExitCode}):\n{output}");
        // Every selected test ran (none skipped), and as nobody.
        var summary = Regex.Match(output, @"Total: (\d+), Errors: 0, Failed: 0, Skipped: 0");
        int total = summary.Success ? int.Parse(summary.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        Assert.True(expectedTotal is { } expected ? total == expected : total > 0, output);
        Assert.Contains($"running as {User}", output, StringComparison.Ordinal);
        return output;
    }

    [UnsupportedOSPlatform("windows")]
    internal static bool WorldReadable(string directory)
    {
        for (var current = new DirectoryInfo(directory); current is not null; current = current.Parent)
        {
            if ((File.GetUnixFileMode(current.FullName) & UnixFileMode.OtherExecute) == 0) return false;
        }

        return (File.GetUnixFileMode(directory) & UnixFileMode.OtherRead) != 0;
    }
}
