using System.Globalization;
using System.Text.RegularExpressions;
using AspNetQuicSteer.Quic.Tests.Interop;

namespace AspNetQuicSteer.Kestrel.Tests.Interop;

/// <summary>Options for one gtlsclient (ngtcp2 0.12) run against an <see cref="InteropTestServer"/>.</summary>
internal sealed record GtlsClientOptions
{
    /// <summary>Request path(s); with <see cref="Requests"/> larger than the list, the list wraps.</summary>
    public required IReadOnlyList<string> Paths { get; init; }

    /// <summary>-n: number of requests on the one connection (0: one per path).</summary>
    public int Requests { get; init; }

    /// <summary>-m POST -d FILE when set.</summary>
    public string? UploadFile { get; init; }

    /// <summary>--download=DIR when set (created).</summary>
    public string? DownloadDirectory { get; init; }

    /// <summary>--change-local-addr=DURATION (after the handshake completes).</summary>
    public string? ChangeLocalAddressAfter { get; init; }

    /// <summary>--key-update=DURATION (after the handshake completes).</summary>
    public string? KeyUpdateAfter { get; init; }

    /// <summary>--timeout: the idle timeout, which is what ends a stalled run (gtlsclient then still exits 0).</summary>
    public string IdleTimeout { get; init; } = "10s";

    /// <summary>Kill bound for the process.</summary>
    public TimeSpan MaxLifetime { get; init; } = TimeSpan.FromSeconds(90);
}

/// <summary>
/// Runs gtlsclient in verbose mode (the only mode that prints response headers; -q prints nothing) without the
/// STREAM/CRYPTO and body dumps, and reads its log: handshake markers, each response's :status, each stream's
/// close code and ngtcp2 errors. gtlsclient exits 0 even after a handshake or idle timeout (see PeerSanityTests), so
/// only the log and the downloaded bytes prove anything.
/// </summary>
internal static partial class GtlsClient
{
    /// <summary>HTTP/3 stream closed with H3_NO_ERROR (0x100 = 256): the response was complete.</summary>
    public const int H3NoError = 0x100;

    public static async Task<GtlsClientRun> RunAsync(InteropTestServer server, GtlsClientOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(options);
        string gtlsclient = InteropPeers.Require(InteropPeer.GtlsClient);
        List<string> arguments =
        [
            "--exit-on-all-streams-close", "--no-quic-dump", "--no-http-dump", "--handshake-timeout=10s", "--timeout=" + options.IdleTimeout,
        ];
        if (options.Requests > 0)
        {
            arguments.Add("-n");
            arguments.Add(options.Requests.ToString(CultureInfo.InvariantCulture));
        }

        if (options.UploadFile is not null)
        {
            arguments.AddRange(["-m", "POST", "-d", options.UploadFile]);
        }

        if (options.DownloadDirectory is not null)
        {
            Directory.CreateDirectory(options.DownloadDirectory);
            arguments.Add("--download=" + options.DownloadDirectory);
        }

        if (options.ChangeLocalAddressAfter is not null)
        {
            arguments.Add("--change-local-addr=" + options.ChangeLocalAddressAfter);
        }

        if (options.KeyUpdateAfter is not null)
        {
            arguments.Add("--key-update=" + options.KeyUpdateAfter);
        }

        arguments.Add("127.0.0.1");
        arguments.Add(server.Port.ToString(CultureInfo.InvariantCulture));
        arguments.AddRange(options.Paths.Select(server.Url));

        await using PeerProcess process = PeerProcess.Start(gtlsclient, arguments, maxLifetime: options.MaxLifetime);
        int exitCode = await process.WaitForExitAsync(options.MaxLifetime + TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
        GtlsClientRun run = new(exitCode, process.StandardErrorLines, process.Describe(60));
        run.SaveLog(process.Output);
        return run;
    }

    /// <summary>Where full gtlsclient logs go (the last lines also appear in assertion messages): artifacts/test-logs/kestrel-interop.</summary>
    public static string LogDirectory => Path.Combine(InteropPeers.RepoRoot, "artifacts", "test-logs", "kestrel-interop");

    [GeneratedRegex(@"^http: stream 0x([0-9a-f]+) \[:status: (\d{3})\]$", RegexOptions.CultureInvariant)]
    internal static partial Regex StatusLine();

    [GeneratedRegex(@"^HTTP stream (\d+) closed with error code (\d+)$", RegexOptions.CultureInvariant)]
    internal static partial Regex StreamClosedLine();
}

/// <summary>What one gtlsclient run printed, parsed.</summary>
internal sealed class GtlsClientRun
{
    public GtlsClientRun(int exitCode, IReadOnlyList<string> stderr, string description)
    {
        ExitCode = exitCode;
        Lines = stderr;
        Description = description;
        Dictionary<long, int> statuses = [];
        Dictionary<long, long> closes = [];
        foreach (string line in stderr)
        {
            Match status = GtlsClient.StatusLine().Match(line);
            if (status.Success)
            {
                statuses[long.Parse(status.Groups[1].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture)] =
                    int.Parse(status.Groups[2].Value, CultureInfo.InvariantCulture);
                continue;
            }

            Match closed = GtlsClient.StreamClosedLine().Match(line);
            if (closed.Success)
            {
                closes[long.Parse(closed.Groups[1].Value, CultureInfo.InvariantCulture)] = long.Parse(closed.Groups[2].Value, CultureInfo.InvariantCulture);
            }
        }

        StatusByStream = statuses;
        CloseCodeByStream = closes;
    }

    public int ExitCode { get; }

    /// <summary>The file holding the whole log of this run.</summary>
    public string? LogPath { get; private set; }

    /// <summary>Writes the whole log to <see cref="GtlsClient.LogDirectory"/> (kept small: the newest 20 runs).</summary>
    internal void SaveLog(string output)
    {
        Directory.CreateDirectory(GtlsClient.LogDirectory);
        foreach (FileInfo old in new DirectoryInfo(GtlsClient.LogDirectory).GetFiles("gtlsclient-*.log")
            .OrderByDescending(f => f.LastWriteTimeUtc).Skip(19))
        {
            old.Delete();
        }

        LogPath = Path.Combine(GtlsClient.LogDirectory,
            FormattableString.Invariant($"gtlsclient-{DateTime.UtcNow:yyyyMMdd-HHmmss-fff}-{Environment.ProcessId}.log"));
        File.WriteAllText(LogPath, output);
    }

    /// <summary>gtlsclient's log (stderr).</summary>
    public IReadOnlyList<string> Lines { get; }

    /// <summary>Command line, exit state and the last lines, for assertion messages.</summary>
    public string Description { get; }

    /// <summary>The :status of each request stream that got response headers.</summary>
    public IReadOnlyDictionary<long, int> StatusByStream { get; }

    /// <summary>The HTTP/3 application error code each request stream closed with (256 = H3_NO_ERROR).</summary>
    public IReadOnlyDictionary<long, long> CloseCodeByStream { get; }

    public bool HandshakeCompleted => Lines.Contains(NgtcpOutput.HandshakeCompleted);

    public bool HandshakeConfirmed => Lines.Contains(NgtcpOutput.HandshakeConfirmed);

    /// <summary>ngtcp2 error lines ("ngtcp2_conn_...: ERR_IDLE_CLOSE", "ERR_DRAINING", ...).</summary>
    public IReadOnlyList<string> Errors => [.. Lines.Where(l => l.Contains(": ERR_", StringComparison.Ordinal))];

    /// <summary>The index of the first line equal to (or, with <paramref name="prefix"/>, starting with) <paramref name="text"/>; -1 if none.</summary>
    public int IndexOf(string text, bool prefix = false)
    {
        for (int i = 0; i < Lines.Count; i++)
        {
            if (prefix ? Lines[i].StartsWith(text, StringComparison.Ordinal) : Lines[i] == text)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>
    /// Asserts a clean run: exit 0, handshake completed and confirmed, no ngtcp2 error, and exactly
    /// <paramref name="requests"/> request streams each with :status 200 and closed with H3_NO_ERROR.
    /// </summary>
    public void AssertAllOk(int requests, string serverDescription)
    {
        string context = Description + $"full log: {LogPath}\n" + serverDescription;
        Assert.True(ExitCode == 0, context);
        Assert.True(HandshakeCompleted && HandshakeConfirmed, "handshake not completed/confirmed\n" + context);
        Assert.True(Errors.Count == 0, "ngtcp2 errors: " + string.Join(" | ", Errors) + "\n" + context);
        Assert.True(StatusByStream.Count == requests, $"{StatusByStream.Count} responses, expected {requests}\n" + context);
        Assert.True(StatusByStream.Values.All(s => s == 200),
            "statuses: " + string.Join(",", StatusByStream.Values.Distinct()) + "\n" + context);
        Assert.True(CloseCodeByStream.Count == requests && CloseCodeByStream.Values.All(c => c == GtlsClient.H3NoError),
            $"{CloseCodeByStream.Count} streams closed, codes {string.Join(",", CloseCodeByStream.Values.Distinct())}\n" + context);
    }
}
