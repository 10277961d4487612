using System.Globalization;

namespace AspNetQuicSteer.Quic.Tests.Interop;

/// <summary>Runs samples/QuicHandshakeHarness as a real process on a loopback UDP port.</summary>
internal sealed class HandshakeHarnessProcess : IAsyncDisposable
{
    private HandshakeHarnessProcess(PeerProcess process, int port)
    {
        Process = process;
        Port = port;
    }

    public PeerProcess Process { get; }

    public int Port { get; }

    public string Address => $"127.0.0.1:{Port}";

    public static string HarnessPath
    {
        get
        {
            // Same configuration as this test assembly (bin/<Configuration>/net10.0).
            string configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
            string path = Path.Combine(InteropPeers.RepoRoot, "samples", "QuicHandshakeHarness", "bin", configuration, "net10.0", "QuicHandshakeHarness.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException("The harness is built with the test project; build the solution first.", path);
        }
    }

    public static async Task<HandshakeHarnessProcess> StartAsync(
        TestCertificateFiles certificate,
        int exitAfterHandshakes,
        IEnumerable<string>? extraArguments = null,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        int port = FreeUdpPort.GetLoopbackPort();
        List<string> arguments =
        [
            HarnessPath, "--port", port.ToString(CultureInfo.InvariantCulture),
            "--cert", certificate.CertificatePath, "--key", certificate.KeyPath,
            "--exit-after-handshakes", exitAfterHandshakes.ToString(CultureInfo.InvariantCulture),
            "--timeout", "30",
        ];
        arguments.AddRange(extraArguments ?? []);
        var process = PeerProcess.Start("dotnet", arguments, environment, maxLifetime: TimeSpan.FromSeconds(45));
        await process.WaitForLineAsync(l => l.StartsWith("LISTENING ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        return new HandshakeHarnessProcess(process, port);
    }

    /// <summary>The fields of the n-th HANDSHAKE_COMPLETE line (our side has 1-RTT keys when it is printed).</summary>
    public async Task<IReadOnlyDictionary<string, string>> WaitForHandshakeAsync(TimeSpan timeout)
    {
        string line = await Process.WaitForLineAsync(l => l.StartsWith("HANDSHAKE_COMPLETE ", StringComparison.Ordinal), timeout);
        return GoHandshakeClient.ParseFields(line);
    }

    public ValueTask DisposeAsync() => Process.DisposeAsync();
}
