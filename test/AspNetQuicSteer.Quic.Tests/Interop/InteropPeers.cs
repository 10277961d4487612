namespace AspNetQuicSteer.Quic.Tests.Interop;

/// <summary>The real QUIC peers (and tools) the interop tests can run.</summary>
internal enum InteropPeer
{
    /// <summary>ngtcp2 0.12 example HTTP/3 client (Debian package ngtcp2-client).</summary>
    GtlsClient,

    /// <summary>ngtcp2 0.12 example HTTP/3 server (Debian package ngtcp2-server).</summary>
    GtlsServer,

    /// <summary>Our quic-go 0.29 handshake client, test/interop/go/src/quicsteer/handshake (eng/build-peers.sh).</summary>
    GoHandshakeClient,

    /// <summary>The openssl command line tool (cross-checks of test certificates).</summary>
    OpenSsl,

    /// <summary>Our quic-go 0.29 hq-interop client, test/interop/go/src/quicsteer/hqclient (eng/build-peers.sh).</summary>
    GoHqClient,

    /// <summary>Our quic-go 0.29 hq-interop server, test/interop/go/src/quicsteer/hqserver (eng/build-peers.sh).</summary>
    GoHqServer,

    /// <summary>Our quinn 0.9 hq-interop client, test/interop/rust/hqclient (eng/build-peers.sh).</summary>
    QuinnHqClient,

    /// <summary>Our quic-go 0.29 HTTP/3 server, test/interop/go/src/quicsteer/h3server (eng/build-peers.sh).</summary>
    GoH3Server,

    /// <summary>Our quic-go 0.29 HTTP/3 client and load program, test/interop/go/src/quicsteer/h3client (eng/build-peers.sh).</summary>
    GoH3Client,
}

/// <summary>
/// Locates the interop peers. <see cref="Require"/> turns a missing peer into a skip on a developer machine
/// and into a failure in CI (environment variable CI set to true/1, as eng/test.sh does).
/// </summary>
internal static class InteropPeers
{
    private const string InstallHint = "run eng/install-peers.sh and eng/build-peers.sh";

    private static readonly Lazy<string> s_repoRoot = new(FindRepoRoot);

    /// <summary>The repository root: the nearest ancestor of the test binaries holding AspNetQuicSteer.sln.</summary>
    public static string RepoRoot => s_repoRoot.Value;

    /// <summary>Where eng/build-peers.sh puts our own peer programs.</summary>
    public static string PeerBinDirectory => Path.Combine(RepoRoot, "artifacts", "peers", "bin");

    /// <summary>True when running in CI, where a missing peer is a failure rather than a skip.</summary>
    public static bool IsContinuousIntegration
    {
        get
        {
            string? ci = Environment.GetEnvironmentVariable("CI");
            return string.Equals(ci, "true", StringComparison.OrdinalIgnoreCase) || ci == "1";
        }
    }

    /// <summary>The full path of the peer's executable, or null when it is not installed / not built.</summary>
    public static string? Locate(InteropPeer peer) => peer switch
    {
        InteropPeer.GtlsClient => FindOnPath("gtlsclient"),
        InteropPeer.GtlsServer => FindOnPath("gtlsserver"),
        InteropPeer.OpenSsl => FindOnPath("openssl"),
        InteropPeer.GoHandshakeClient => ExistingFile(Path.Combine(PeerBinDirectory, "handshake")),
        InteropPeer.GoHqClient => ExistingFile(Path.Combine(PeerBinDirectory, "hqclient")),
        InteropPeer.GoHqServer => ExistingFile(Path.Combine(PeerBinDirectory, "hqserver")),
        InteropPeer.QuinnHqClient => ExistingFile(Path.Combine(PeerBinDirectory, "quinn-hqclient")),
        InteropPeer.GoH3Server => ExistingFile(Path.Combine(PeerBinDirectory, "h3server")),
        InteropPeer.GoH3Client => ExistingFile(Path.Combine(PeerBinDirectory, "h3client")),
        _ => throw new ArgumentOutOfRangeException(nameof(peer), peer, null),
    };

    /// <summary>
    /// The full path of the peer's executable. When it is missing: fails the test in CI, skips it
    /// (with the reason shown) otherwise.
    /// </summary>
    public static string Require(InteropPeer peer)
    {
        string? path = Locate(peer);
        if (path is not null)
        {
            return path;
        }

        string message = $"Interop peer {peer} ({Describe(peer)}) is missing; {InstallHint}.";
        if (IsContinuousIntegration)
        {
            Assert.Fail(message + " CI must provide every interop peer.");
        }

        Assert.Skip(message);
        return null!; // Assert.Skip always throws.
    }

    private static string Describe(InteropPeer peer) => peer switch
    {
        InteropPeer.GtlsClient => "gtlsclient on PATH, Debian package ngtcp2-client",
        InteropPeer.GtlsServer => "gtlsserver on PATH, Debian package ngtcp2-server",
        InteropPeer.OpenSsl => "openssl on PATH",
        InteropPeer.GoHandshakeClient => Path.Combine(PeerBinDirectory, "handshake") + ", built by eng/build-peers.sh",
        InteropPeer.GoHqClient => Path.Combine(PeerBinDirectory, "hqclient") + ", built by eng/build-peers.sh",
        InteropPeer.GoHqServer => Path.Combine(PeerBinDirectory, "hqserver") + ", built by eng/build-peers.sh",
        InteropPeer.QuinnHqClient => Path.Combine(PeerBinDirectory, "quinn-hqclient")
            + ", built by eng/build-peers.sh (Debian cargo, librust-quinn-dev)",
        InteropPeer.GoH3Server => Path.Combine(PeerBinDirectory, "h3server") + ", built by eng/build-peers.sh",
        InteropPeer.GoH3Client => Path.Combine(PeerBinDirectory, "h3client") + ", built by eng/build-peers.sh",
        _ => peer.ToString(),
    };

    private static string? FindOnPath(string name)
    {
        string? pathVariable = Environment.GetEnvironmentVariable("PATH");
        IEnumerable<string> directories = (pathVariable ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/local/bin", "/usr/bin", "/bin"]);
        foreach (string directory in directories)
        {
            string candidate = Path.Combine(directory, name);
            if (ExistingFile(candidate) is not null)
            {
                return candidate;
            }
        }

        return null;
    }

    private static string? ExistingFile(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        if (OperatingSystem.IsWindows())
        {
            return path;
        }

        UnixFileMode mode = File.GetUnixFileMode(path);
        const UnixFileMode anyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        return (mode & anyExecute) != 0 ? path : null;
    }

    private static string FindRepoRoot()
    {
        for (DirectoryInfo? directory = new(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "AspNetQuicSteer.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException(
            $"AspNetQuicSteer.sln not found in any parent directory of {AppContext.BaseDirectory}.");
    }
}
