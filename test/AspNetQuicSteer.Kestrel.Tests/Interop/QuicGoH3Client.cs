using System.Globalization;
using AspNetQuicSteer.Quic.Tests.Interop;

namespace AspNetQuicSteer.Kestrel.Tests.Interop;

/// <summary>
/// Our quic-go 0.29 HTTP/3 client (test/interop/go/src/quicsteer/h3client, built offline by eng/build-peers.sh; CLI
/// and output lines in test/interop/H3.md). A missing binary skips locally and fails under CI=true.
/// </summary>
internal static class QuicGoH3Client
{
    public static string Require()
    {
        string path = Path.Combine(InteropPeers.PeerBinDirectory, "h3client");
        if (File.Exists(path)) return path;
        string message = $"Interop peer h3client ({path}) is missing; run eng/install-peers.sh and eng/build-peers.sh.";
        if (InteropPeers.IsContinuousIntegration) Assert.Fail(message + " CI must provide every interop peer.");
        Assert.Skip(message);
        return null!;
    }

    /// <summary>Runs one h3client mode to completion and returns its last result line (H3_OK, H3_FAILED, LOAD, BULK).</summary>
    public static async Task<H3ClientRun> RunAsync(string mode, IEnumerable<string> arguments, TimeSpan timeout, CancellationToken cancellationToken)
    {
        string binary = Require();
        await using PeerProcess process = PeerProcess.Start(binary, [mode, "-insecure", .. arguments], maxLifetime: timeout + TimeSpan.FromSeconds(10));
        int exitCode = await process.WaitForExitAsync(timeout + TimeSpan.FromSeconds(5), cancellationToken);
        string result = process.StandardOutputLines.LastOrDefault(l => l.StartsWith("H3_", StringComparison.Ordinal)
            || l.StartsWith("LOAD ", StringComparison.Ordinal) || l.StartsWith("BULK ", StringComparison.Ordinal)) ?? string.Empty;
        return new H3ClientRun(exitCode, result, process.Describe());
    }
}

internal sealed record H3ClientRun(int ExitCode, string Result, string Description)
{
    public bool Ok => ExitCode == 0 && Result.StartsWith("H3_OK", StringComparison.Ordinal);

    /// <summary>A <c>key=value</c> field of the result line.</summary>
    public long Field(string key)
    {
        foreach (string part in Result.Split(' '))
        {
            if (part.StartsWith(key + "=", StringComparison.Ordinal)) return long.Parse(part[(key.Length + 1)..], CultureInfo.InvariantCulture);
        }

        throw new InvalidOperationException($"No {key}= in '{Result}'.\n{Description}");
    }
}
