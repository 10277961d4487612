using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace AspNetQuicSteer.Kestrel.Tests.Steering;

/// <summary>
/// The rollover demo (eng/demo-rollover.sh) as a test, issue 7 groundwork: v1 → v2 → v3 → v4 on one port under
/// continuous HTTP/3 load from quicsteer-load (4 connections x 8 streams). The script fails when any request failed
/// or a superseded version did not drain (GOAWAY) and exit by itself; it writes the timeline picture.
/// </summary>
[Collection(SharedPortProcesses.Name)]
public sealed class RolloverDemoTests
{
    [Theory]
    [InlineData("ReuseportCbpf")]
    [InlineData("ReuseportEbpf")]
    [InlineData("Forwarding")]
    public async Task Three_rollovers_under_load_fail_no_request(string dataplane)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Port steering is Linux-only.");
        Assert.SkipWhen(dataplane == "ReuseportEbpf" && Environment.UserName != "root", "loading eBPF needs root or CAP_BPF; the suite runs as root in CI");
        string script = FindScript();
        string output = Directory.CreateTempSubdirectory("rollover-demo-").FullName;
        try
        {
            var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string argument in new[] { script, "--no-build", "--interval", "3", "--versions", "4", "--dataplane", dataplane, "--port", FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture), "--out", output })
            {
                start.ArgumentList.Add(argument);
            }

            using var demo = Process.Start(start)!;
            Task<string> stdout = demo.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
            Task<string> stderr = demo.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            timeout.CancelAfter(TimeSpan.FromMinutes(2));
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
            Assert.Contains("failures: 0 ", log, StringComparison.Ordinal);
            for (int v = 1; v <= 3; v++) Assert.Contains($"demo-rollover: v{v}: Generation drained", log, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(output, "timeline.svg")));
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

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
