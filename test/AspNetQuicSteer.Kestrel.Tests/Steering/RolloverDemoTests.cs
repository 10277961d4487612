using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text.RegularExpressions;
using AspNetQuicSteer.TestSupport;

namespace AspNetQuicSteer.Kestrel.Tests.Steering;

/// <summary>
/// The rollover demo (eng/demo-rollover.sh) as a test, issue 7's acceptance: v1 → v2 → v3 → v4 on one port under
/// continuous HTTP/3 load from quicsteer-load (4 connections x 8 streams) plus a loop of gtlsclient runs (a new
/// connection each). The script fails when any request or gtlsclient run failed, when a gtlsclient run that started
/// after an activation was served by an older version, or when a superseded version did not drain and exit by itself
/// within the drain timeout; it prints the figures (drain times, p99 steady vs around the activations) and writes the
/// timeline picture with activation and exit markers. One case runs it as an unprivileged user with the default
/// (Automatic) dataplane, ARCHITECTURE.md invariant 4.
/// </summary>
[Collection(SharedPortProcesses.Name)]
public sealed class RolloverDemoTests
{
    /// <summary>Each case takes about 30 s on 2 cores; this bounds a hung one.</summary>
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(90);

    [Theory]
    [InlineData("ReuseportCbpf")]
    [InlineData("ReuseportEbpf")]
    [InlineData("Forwarding")]
    public async Task Three_rollovers_under_load_fail_no_request(string dataplane)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Port steering is Linux-only.");
        Assert.SkipWhen(dataplane == "ReuseportEbpf" && Environment.UserName != "root", "loading eBPF needs root or CAP_BPF; the suite runs as root in CI");
        string output = Directory.CreateTempSubdirectory("rollover-demo-").FullName;
        try
        {
            string log = await RunDemoAsync(runuser: null, dataplane, output);
            AssertRolloverPassed(log, output);
            Assert.Contains($"dataplane {dataplane} (", log, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    [Fact]
    [SupportedOSPlatform("linux")]
    public async Task Three_rollovers_as_an_unprivileged_user_with_the_default_dataplane()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Port steering is Linux-only.");
        Assert.SkipUnless(Environment.UserName == "root", "switching to an unprivileged user needs root (the suite runs as root in CI)");
        string? runuser = new[] { "/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser" }.FirstOrDefault(File.Exists);
        Assert.SkipWhen(runuser is null, "runuser(1) not found; cannot switch to an unprivileged user");
        string root = Path.GetDirectoryName(Path.GetDirectoryName(FindScript()))!;
        string site = Path.Combine(root, "samples", "SampleSite", "bin", "Release", "net10.0");
        string load = Path.Combine(root, "src", "AspNetQuicSteer.LoadTool", "bin", "Release", "net10.0");
        foreach (string directory in new[] { site, load })
        {
            Assert.SkipUnless(Directory.Exists(directory) && UnprivilegedRun.WorldReadable(directory),
                $"{directory} is missing or not readable by {UnprivilegedRun.User}; build outside a private directory to run this check");
        }

        // The output (and the HOME the site keeps its development certificate in) must be the unprivileged user's to write.
        string output = Directory.CreateTempSubdirectory("rollover-demo-nobody-").FullName;
        File.SetUnixFileMode(output, (UnixFileMode)0b111_111_111);
        try
        {
            string log = await RunDemoAsync(runuser, "Automatic", output);
            AssertRolloverPassed(log, output);
            Assert.Contains($"running as {UnprivilegedRun.User} ", log, StringComparison.Ordinal);
            // Automatic without privileges is the classic BPF dataplane (no eBPF), per ARCHITECTURE.md §6.
            Assert.Contains("dataplane Automatic (reuseport-cbpf)", log, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    private static void AssertRolloverPassed(string log, string output)
    {
        Assert.Contains("result: PASS", log, StringComparison.Ordinal);
        Assert.Contains("failures: 0 ", log, StringComparison.Ordinal);
        Assert.Matches(@"failed requests: quicsteer-load 0 of [1-9]\d* completed; gtlsclient 0", log);
        for (int v = 1; v <= 3; v++)
        {
            Assert.Contains($"demo-rollover: v{v}: ", log, StringComparison.Ordinal);
            Assert.Matches($@"v{v} \d+\.\d{{3}} s \(exit 0\)", log);
        }

        Assert.DoesNotContain("did not report its drain", log, StringComparison.Ordinal);
        // The live timeline: a progress line per 100 ms naming who answered in it, up to the last version.
        Assert.Matches(@"\[interval:.* v4 [1-9]\d*, failed 0\]", log);
        Assert.Matches(@"p99 latency: steady \d+(\.\d+)? ms, within ±1 s of activations \d+(\.\d+)? ms", log);
        if (FindOnPath("gtlsclient") is not null)
        {
            // A new connection per run all through the rollovers, none served by a superseded version.
            Match gtls = Regex.Match(log, @"gtlsclient: (\d+) runs, 0 failed; by version: (.*); 0 served by an older generation");
            Assert.True(gtls.Success, log);
            Assert.True(int.Parse(gtls.Groups[1].Value, CultureInfo.InvariantCulture) >= 8, log);
        }
        else
        {
            Assert.Contains("gtlsclient not found", log, StringComparison.Ordinal);
        }

        string svg = File.ReadAllText(Path.Combine(output, "timeline.svg"));
        foreach (string mark in new[] { ">v2 active<", ">v3 active<", ">v4 active<", ">v1 exit<", ">v2 exit<", ">v3 exit<" })
        {
            Assert.Contains(mark, svg, StringComparison.Ordinal);
        }
    }

    /// <summary>Runs the demo (as <paramref name="runuser"/>'s nobody when given) and returns stdout + stderr after asserting exit 0.</summary>
    private static async Task<string> RunDemoAsync(string? runuser, string dataplane, string output)
    {
        string script = FindScript();
        List<string> command = [];
        if (runuser is not null)
        {
            string home = Path.Combine(output, "home");
            command.AddRange([runuser, "-u", UnprivilegedRun.User, "--", "env", $"HOME={home}", $"DOTNET_CLI_HOME={home}"]);
        }

        command.AddRange(["bash", script, "--no-build", "--interval", "3", "--versions", "4", "--dataplane", dataplane, "--live", "100ms",
            "--port", FreePort().ToString(CultureInfo.InvariantCulture), "--out", output]);
        var start = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/" };
        foreach (string argument in command.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        using var demo = Process.Start(start)!;
        Task<string> stdout = demo.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        Task<string> stderr = demo.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(s_timeout);
        try
        {
            await demo.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            demo.Kill(entireProcessTree: true);
            throw;
        }

        string log = await stdout + await stderr;
        TestContext.Current.TestOutputHelper?.WriteLine(log);
        Assert.True(demo.ExitCode == 0, $"demo-rollover exited {demo.ExitCode}:\n{log}");
        return log;
    }

    private static string? FindOnPath(string name)
        => (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, name))
            .FirstOrDefault(File.Exists);

    private static string FindScript()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            string candidate = Path.Combine(directory.FullName, "eng", "demo-rollover.sh");
            if (File.Exists(candidate)) return candidate;
        }

        throw new FileNotFoundException("eng/demo-rollover.sh not found above " + AppContext.BaseDirectory);
    }

    private static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
