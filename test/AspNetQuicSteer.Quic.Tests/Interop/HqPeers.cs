using System.Globalization;

namespace AspNetQuicSteer.Quic.Tests.Interop;

/// <summary>How an hq-interop client spreads its requests over connections (both our Go and quinn clients).</summary>
internal enum HqClientMode
{
    /// <summary>One connection, every request at once (bounded by parallel): the interop runner's "multiplexing".</summary>
    Multiplex,

    /// <summary>One connection, one request at a time.</summary>
    Sequential,

    /// <summary>A new connection per URL, one after the other ("multiconnect").</summary>
    MultiConnect,

    /// <summary>First URL on one connection, wait for a session ticket, the rest on a resumed second connection.</summary>
    Resumption,

    /// <summary>Like <see cref="Resumption"/>, the second connection sending its requests in 0-RTT.</summary>
    ZeroRtt,
}

/// <summary>
/// The result line of an hq client run: "HQ_OK key=value ..." (exit 0) or "HQ_FAILED &lt;error&gt;" (exit 1).
/// </summary>
internal sealed record HqSummary(bool Succeeded, string Line, IReadOnlyDictionary<string, string> Fields, string? Error)
{
    public const string SuccessPrefix = "HQ_OK ";
    public const string FailurePrefix = "HQ_FAILED ";

    public int Files => Int("files");

    public long Bytes => Long("bytes");

    public long Milliseconds => Long("ms");

    public int Connections => Int("connections");

    public int Int(string key) => int.Parse(Fields[key], CultureInfo.InvariantCulture);

    public long Long(string key) => long.Parse(Fields[key], CultureInfo.InvariantCulture);

    /// <summary>The client's result line; throws (with the client's output) when it printed none.</summary>
    public static HqSummary From(PeerProcess client)
    {
        ArgumentNullException.ThrowIfNull(client);
        string? line = client.StandardOutputLines.LastOrDefault(
            l => l.StartsWith(SuccessPrefix, StringComparison.Ordinal) || l.StartsWith(FailurePrefix, StringComparison.Ordinal));
        if (line is null)
        {
            throw new InvalidOperationException($"{client} printed no HQ_OK / HQ_FAILED line.\n{client.Describe()}");
        }

        return Parse(line);
    }

    public static HqSummary Parse(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        if (line.StartsWith(FailurePrefix, StringComparison.Ordinal))
        {
            return new HqSummary(false, line, new Dictionary<string, string>(), line[FailurePrefix.Length..]);
        }

        if (!line.StartsWith(SuccessPrefix, StringComparison.Ordinal))
        {
            throw new FormatException($"Not an hq summary line: {line}");
        }

        return new HqSummary(true, line, ParseFields(line), null);
    }

    /// <summary>The key=value tokens after the first word of a line.</summary>
    public static IReadOnlyDictionary<string, string> ParseFields(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        Dictionary<string, string> fields = new(StringComparer.Ordinal);
        foreach (string token in line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1))
        {
            int equals = token.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                fields[token[..equals]] = token[(equals + 1)..];
            }
        }

        return fields;
    }
}

/// <summary>Shared argument helpers for the hq peers.</summary>
internal static class HqArguments
{
    /// <summary>"https://{address}{path}" for each path (paths start with "/").</summary>
    public static IReadOnlyList<string> Urls(string address, IEnumerable<string> paths) =>
        [.. paths.Select(p => $"https://{address}{p}")];

    /// <summary>The URLs of <paramref name="files"/> on the server at <paramref name="address"/>.</summary>
    public static IReadOnlyList<string> Urls(string address, IEnumerable<HqTestFile> files) => Urls(address, files.Select(f => f.UrlPath));

    public static string GoDuration(TimeSpan value) => FormattableString.Invariant($"{(long)value.TotalMilliseconds}ms");

    public static string ModeName(HqClientMode mode) => mode switch
    {
        HqClientMode.Multiplex => "multiplex",
        HqClientMode.Sequential => "sequential",
        HqClientMode.MultiConnect => "multiconnect",
        HqClientMode.Resumption => "resumption",
        HqClientMode.ZeroRtt => "zerortt",
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
    };

    public static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// Our quic-go 0.29 hq-interop client (test/interop/go/src/quicsteer/hqclient). Prints "FILE /path bytes=N conn=C"
/// per completed download, then "HQ_OK files= bytes= ms= connections= retries= resumed= zerortt= keyupdates_local=
/// keyupdates_remote= version=0x00000001 alpn=hq-interop cipher=TLS_..." (exit 0, only when every URL downloaded
/// completely) or "HQ_FAILED &lt;error&gt;" (exit 1); bad flags exit 2. SSLKEYLOGFILE is honoured. Offers an x25519
/// key share only; QUIC v1 only.
/// </summary>
internal static class GoHqClient
{
    /// <summary>
    /// Arguments for one run. <paramref name="trustedCaPemPath"/> null means -insecure. <paramref name="keyUpdateInterval"/>:
    /// initiate a key update every that many packets sent or received (quic-go's default 100000; its interop
    /// client uses 100). <paramref name="expectRetry"/> / <paramref name="expectKeyUpdate"/> turn a missing Retry
    /// / key update into HQ_FAILED. <paramref name="outputDirectory"/> null: count bytes without saving.
    /// </summary>
    public static IReadOnlyList<string> Arguments(
        IEnumerable<string> urls,
        string? outputDirectory,
        string? trustedCaPemPath,
        string sni = TestCertificates.CommonName,
        TimeSpan? timeout = null,
        HqClientMode mode = HqClientMode.Multiplex,
        int parallel = 0,
        ulong? keyUpdateInterval = null,
        string? ciphers = null,
        bool expectRetry = false,
        bool expectKeyUpdate = false,
        ulong? maxStreamReceiveWindow = null,
        bool verbose = false)
    {
        ArgumentNullException.ThrowIfNull(urls);
        List<string> arguments = ["-sni", sni, "-mode", HqArguments.ModeName(mode)];
        arguments.AddRange(trustedCaPemPath is null ? ["-insecure"] : ["-ca", trustedCaPemPath]);
        arguments.AddRange(["-timeout", HqArguments.GoDuration(timeout ?? TimeSpan.FromSeconds(10))]);
        if (outputDirectory is not null)
        {
            arguments.AddRange(["-out", outputDirectory]);
        }

        if (parallel > 0)
        {
            arguments.AddRange(["-parallel", HqArguments.Invariant(parallel)]);
        }

        if (keyUpdateInterval is not null)
        {
            arguments.AddRange(["-keyupdate", keyUpdateInterval.Value.ToString(CultureInfo.InvariantCulture)]);
        }

        if (ciphers is not null)
        {
            arguments.AddRange(["-ciphers", ciphers]);
        }

        if (expectRetry)
        {
            arguments.Add("-expect-retry");
        }

        if (expectKeyUpdate)
        {
            arguments.Add("-expect-keyupdate");
        }

        if (maxStreamReceiveWindow is not null)
        {
            arguments.AddRange(["-stream-window", maxStreamReceiveWindow.Value.ToString(CultureInfo.InvariantCulture)]);
        }

        if (verbose)
        {
            arguments.Add("-v");
        }

        arguments.AddRange(urls);
        return arguments;
    }
}

/// <summary>
/// Our quinn 0.9 hq-interop client (test/interop/rust/hqclient). Prints "FILE /path bytes=N conn=C" per download,
/// then "HQ_OK files= bytes= ms= connections= zerortt= keyupdates_forced= rebinds= lost_packets= alpn=hq-interop"
/// (exit 0) or "HQ_FAILED &lt;error&gt;" (exit 1); bad flags exit 2; a Rust panic exits 101. SSLKEYLOGFILE is honoured
/// (rustls KeyLogFile). TLS 1.3 only, x25519 key share; 20-byte client DCID.
/// Certificate verification (-ca) uses webpki 0.22: the certificate must not be a CA (CaUsedAsEndEntity) and the
/// server name must be a DNS name (IP SANs unsupported), hence <paramref name="sni"/> "localhost".
/// </summary>
internal static class QuinnHqClient
{
    /// <summary>
    /// Arguments for one run. <paramref name="forceKeyUpdate"/>: one key update right after the handshake, before the
    /// requests (quinn's Connection::force_key_update). <paramref name="rebindAfter"/>: once, after that delay, move
    /// the client to a new UDP socket (new local port, same connection IDs: NAT-rebinding style migration).
    /// </summary>
    public static IReadOnlyList<string> Arguments(
        IEnumerable<string> urls,
        string? outputDirectory,
        string? trustedCaPemPath,
        string sni = TestCertificates.CommonName,
        TimeSpan? timeout = null,
        HqClientMode mode = HqClientMode.Multiplex,
        int parallel = 0,
        bool forceKeyUpdate = false,
        TimeSpan? rebindAfter = null,
        bool verbose = false)
    {
        ArgumentNullException.ThrowIfNull(urls);
        List<string> arguments = ["-sni", sni, "-mode", HqArguments.ModeName(mode)];
        arguments.AddRange(trustedCaPemPath is null ? ["-insecure"] : ["-ca", trustedCaPemPath]);
        arguments.AddRange(["-timeout", HqArguments.GoDuration(timeout ?? TimeSpan.FromSeconds(10))]);
        if (outputDirectory is not null)
        {
            arguments.AddRange(["-out", outputDirectory]);
        }

        if (parallel > 0)
        {
            arguments.AddRange(["-parallel", HqArguments.Invariant(parallel)]);
        }

        if (forceKeyUpdate)
        {
            arguments.Add("-keyupdate");
        }

        if (rebindAfter is not null)
        {
            arguments.AddRange(["-rebind-after", HqArguments.GoDuration(rebindAfter.Value)]);
        }

        if (verbose)
        {
            arguments.Add("-v");
        }

        arguments.AddRange(urls);
        return arguments;
    }
}

/// <summary>
/// Our quic-go 0.29 hq-interop server (test/interop/go/src/quicsteer/hqserver). Prints "LISTENING 127.0.0.1:PORT" when
/// ready; "RETRY_SENT remote=..." per Retry; "REQ conn=N path=/p bytes=B result=ok|notfound|badrequest|error:..." per
/// request (not with quiet); "CONN n= remote= alpn= resumed= zerortt= retry_validated= keyupdates_local=
/// keyupdates_remote= requests= bytes= close=&lt;reason&gt;" when a connection ends. A missing file resets the stream
/// with application error 0x194, a malformed request with 0x190. Binds loopback only.
/// </summary>
internal static class GoHqServer
{
    public const string ListeningPrefix = "LISTENING ";
    public const string ConnectionPrefix = "CONN ";
    public const string RequestPrefix = "REQ ";
    public const string RetrySentPrefix = "RETRY_SENT ";

    /// <summary>
    /// Arguments. <paramref name="address"/> "127.0.0.1:0" lets the server pick a port (read it from LISTENING).
    /// <paramref name="retry"/>: Retry every new connection. <paramref name="keyUpdateInterval"/>: as for the client.
    /// <paramref name="maxStreams"/>: max concurrent client bidi streams (default 100).
    /// </summary>
    public static IReadOnlyList<string> Arguments(
        string wwwDirectory,
        TestCertificateFiles certificate,
        string address = "127.0.0.1:0",
        bool retry = false,
        ulong? keyUpdateInterval = null,
        long? maxStreams = null,
        TimeSpan? idleTimeout = null,
        TimeSpan? exitAfter = null,
        bool quiet = false)
    {
        List<string> arguments = ["-addr", address, "-www", wwwDirectory, "-cert", certificate.CertificatePath, "-key", certificate.KeyPath];
        if (retry)
        {
            arguments.Add("-retry");
        }

        if (keyUpdateInterval is not null)
        {
            arguments.AddRange(["-keyupdate", keyUpdateInterval.Value.ToString(CultureInfo.InvariantCulture)]);
        }

        if (maxStreams is not null)
        {
            arguments.AddRange(["-max-streams", HqArguments.Invariant(maxStreams.Value)]);
        }

        if (idleTimeout is not null)
        {
            arguments.AddRange(["-idle", HqArguments.GoDuration(idleTimeout.Value)]);
        }

        arguments.AddRange(["-exit-after", HqArguments.GoDuration(exitAfter ?? TimeSpan.FromMinutes(2))]);
        if (quiet)
        {
            arguments.Add("-q");
        }

        return arguments;
    }

    /// <summary>
    /// Starts the server (killed after <paramref name="maxLifetime"/>, default 60 s), waits for its LISTENING line and
    /// stores the address in <see cref="PeerProcess.Tag"/> (see <see cref="Address"/>).
    /// </summary>
    public static async Task<PeerProcess> StartAsync(
        IReadOnlyList<string> arguments,
        TimeSpan? maxLifetime = null,
        IReadOnlyDictionary<string, string?>? environment = null,
        CancellationToken cancellationToken = default)
    {
        string path = InteropPeers.Require(InteropPeer.GoHqServer);
        PeerProcess server = PeerProcess.Start(path, arguments, environment, maxLifetime: maxLifetime ?? TimeSpan.FromSeconds(60));
        try
        {
            string line = await server.WaitForLineAsync(
                l => l.StartsWith(ListeningPrefix, StringComparison.Ordinal), TimeSpan.FromSeconds(10), PeerStream.StandardOutput, cancellationToken);
            server.Tag = line[ListeningPrefix.Length..];
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>The "127.0.0.1:PORT" a server started with <see cref="StartAsync"/> listens on.</summary>
    public static string Address(PeerProcess server) =>
        server?.Tag as string ?? throw new InvalidOperationException("Not a server started by GoHqServer.StartAsync.");

    /// <summary>The fields of every CONN line printed so far (one per ended connection).</summary>
    public static IReadOnlyList<IReadOnlyDictionary<string, string>> Connections(PeerProcess server)
    {
        ArgumentNullException.ThrowIfNull(server);
        return [.. server.StandardOutputLines
            .Where(l => l.StartsWith(ConnectionPrefix, StringComparison.Ordinal))
            .Select(ParseConnectionLine)];
    }

    /// <summary>Waits until the server has printed at least <paramref name="count"/> CONN lines, and returns them.</summary>
    public static async Task<IReadOnlyList<IReadOnlyDictionary<string, string>>> WaitForConnectionsAsync(
        PeerProcess server, int count, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        int seen = 0;
        await server.WaitForLineAsync(
            l => l.StartsWith(ConnectionPrefix, StringComparison.Ordinal) && ++seen >= count, timeout, PeerStream.StandardOutput, cancellationToken);
        return Connections(server);
    }

    /// <summary>
    /// CONN fields; "close" is everything after "close=" (quic-go's error text may contain spaces).
    /// </summary>
    public static IReadOnlyDictionary<string, string> ParseConnectionLine(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        int close = line.IndexOf(" close=", StringComparison.Ordinal);
        Dictionary<string, string> fields = new(HqSummary.ParseFields(close < 0 ? line : line[..close]), StringComparer.Ordinal);
        if (close >= 0)
        {
            fields["close"] = line[(close + " close=".Length)..];
        }

        return fields;
    }
}
