namespace AspNetQuicSteer.Quic.Tests.Interop;

/// <summary>
/// Real hq-interop clients (quic-go, quinn) download from our server (the harness with --www) over loopback UDP:
/// 1 KB, 10 MB and 50 concurrent files, with and without Retry (issue 3 acceptance). Bytes are verified.
/// </summary>
[Trait("Category", "Interop")]
public sealed class HqServerInteropTests
{
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(40);
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(50);

    [Theory]
    [InlineData("small", false)]
    [InlineData("large", false)]
    [InlineData("multiplexed", false)]
    [InlineData("small", true)]
    [InlineData("large", true)]
    [InlineData("multiplexed", true)]
    public Task GoHqClientDownloadsFromOurServer(string transfer, bool retry)
        => DownloadFromOurServerAsync("quic-go", transfer, retry, batched: false);

    [Theory]
    [InlineData("small", false)]
    [InlineData("large", false)]
    [InlineData("multiplexed", false)]
    [InlineData("small", true)]
    [InlineData("large", true)]
    [InlineData("multiplexed", true)]
    public Task QuinnHqClientDownloadsFromOurServer(string transfer, bool retry)
        => DownloadFromOurServerAsync("quinn", transfer, retry, batched: false);

    [Fact]
    public async Task QuinnClientKeyUpdateAndMigrationMidTransfer()
    {
        // RFC 9001 §6: quinn forces a key update right after the handshake; RFC 9000 §9: it then moves to a new local
        // port mid-download (NAT-rebinding style). Our server follows, validates the new path, and the bytes arrive.
        string quinn = InteropPeers.Require(InteropPeer.QuinnHqClient);
        CancellationToken cancel = TestContext.Current.CancellationToken;
        using var temp = new TempDirectory();
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        // 30 MB so the rebind at 250 ms lands mid-transfer, after the handshake is confirmed (RFC 9000 §9 forbids
        // migrating earlier, and we drop packets from a new address until then).
        IReadOnlyList<HqTestFile> files = HqTestFiles.Create(temp.Combine("www"), Enumerable.Range(0, 3).Select(i => ($"big{i}.bin", 10L * 1024 * 1024)));
        TestCertificateFiles certificateFiles = certificate.WriteFiles(temp.Combine("cert"));
        await using HandshakeHarnessProcess server = await StartServerAsync(temp, certificateFiles, retry: false);

        await using PeerProcess client = PeerProcess.Start(quinn,
            QuinnHqClient.Arguments(HqArguments.Urls(server.Address, files), temp.Combine("download"), certificateFiles.CertificatePath,
                timeout: ClientTimeout, forceKeyUpdate: true, rebindAfter: TimeSpan.FromMilliseconds(250)),
            maxLifetime: ExitTimeout);
        int exitCode = await client.WaitForExitAsync(ExitTimeout, cancel);

        HqSummary summary = HqSummary.From(client);
        Assert.True(exitCode == 0 && summary.Succeeded, client.Describe(30) + server.Process.Describe(30));
        Assert.Equal("1", summary.Fields["rebinds"]);
        HqTestFiles.AssertDownloaded(temp.Combine("download"), files, client.Describe(20));

        string closed = await server.Process.WaitForLineAsync(l => l.StartsWith("CONNECTION_CLOSED ", StringComparison.Ordinal), TimeSpan.FromSeconds(15), cancellationToken: cancel);
        IReadOnlyDictionary<string, string> fields = GoHandshakeClient.ParseFields(closed);
        Assert.True(int.Parse(fields["key_updates"], System.Globalization.CultureInfo.InvariantCulture) >= 1, closed);
        Assert.True(int.Parse(fields["migrations"], System.Globalization.CultureInfo.InvariantCulture) >= 1, closed);
    }

    [Fact]
    public async Task QuicGoClientUpdatesKeysEveryHundredPackets()
    {
        // RFC 9001 §6: quic-go initiates a key update every 100 packets during a 10 MB download; we follow each one.
        string goClient = InteropPeers.Require(InteropPeer.GoHqClient);
        CancellationToken cancel = TestContext.Current.CancellationToken;
        using var temp = new TempDirectory();
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        (IReadOnlyList<HqTestFile> files, TestCertificateFiles certificateFiles) = Prepare(temp, certificate, "large");
        await using HandshakeHarnessProcess server = await StartServerAsync(temp, certificateFiles, retry: false);

        await using PeerProcess client = PeerProcess.Start(goClient,
            GoHqClient.Arguments(HqArguments.Urls(server.Address, files), temp.Combine("download"), certificateFiles.CertificatePath,
                timeout: ClientTimeout, keyUpdateInterval: 100, expectKeyUpdate: true),
            maxLifetime: ExitTimeout);
        int exitCode = await client.WaitForExitAsync(ExitTimeout, cancel);

        HqSummary summary = HqSummary.From(client);
        Assert.True(exitCode == 0 && summary.Succeeded, client.Describe(30) + server.Process.Describe(30));
        HqTestFiles.AssertDownloaded(temp.Combine("download"), files, client.Describe(20));
        string closed = await server.Process.WaitForLineAsync(l => l.StartsWith("CONNECTION_CLOSED ", StringComparison.Ordinal), TimeSpan.FromSeconds(15), cancellationToken: cancel);
        Assert.True(int.Parse(GoHandshakeClient.ParseFields(closed)["key_updates"], System.Globalization.CultureInfo.InvariantCulture) >= 2, closed);
    }

    [Theory]
    [InlineData("small", false)]
    [InlineData("large", false)]
    [InlineData("multiplexed", false)]
    [InlineData("small", true)]
    [InlineData("large", true)]
    [InlineData("multiplexed", true)]
    public async Task OurHqClientDownloadsFromQuicGoServer(string transfer, bool retry)
    {
        // The other direction: our client role (TLS client with chain and host-name validation, Retry handling,
        // stream reassembly) against quic-go's server.
        CancellationToken cancel = TestContext.Current.CancellationToken;
        using var temp = new TempDirectory();
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        (IReadOnlyList<HqTestFile> files, TestCertificateFiles certificateFiles) = Prepare(temp, certificate, transfer);
        await using PeerProcess server = await GoHqServer.StartAsync(GoHqServer.Arguments(temp.Combine("www"), certificateFiles, retry: retry), cancellationToken: cancel);

        List<string> arguments = [HandshakeHarnessProcess.HarnessPath, "client", "--ca", certificateFiles.CertificatePath, "--sni", "localhost",
            "--out", temp.Combine("download"), "--timeout", "40"];
        arguments.AddRange(HqArguments.Urls(GoHqServer.Address(server), files));
        await using PeerProcess client = PeerProcess.Start("dotnet", arguments, maxLifetime: ExitTimeout);
        int exitCode = await client.WaitForExitAsync(ExitTimeout, cancel);

        string ok = Assert.Single(client.StandardOutputLines, l => l.StartsWith("HQ_OK ", StringComparison.Ordinal));
        Assert.True(exitCode == 0, client.Describe(30) + server.Describe(30));
        IReadOnlyDictionary<string, string> fields = GoHandshakeClient.ParseFields(ok);
        Assert.Equal(files.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), fields["files"]);
        Assert.Equal(retry ? "True" : "False", fields["retry"]);
        HqTestFiles.AssertDownloaded(temp.Combine("download"), files, client.Describe(20));
    }

    [Theory]
    [InlineData("quic-go", false)]
    [InlineData("quic-go", true)]
    [InlineData("quinn", false)]
    [InlineData("quinn", true)]
    public Task BatchedServerServesRealClients(string peer, bool retry)
        => DownloadFromOurServerAsync(peer, "large+multiplexed", retry, batched: true);

    /// <summary>
    /// A real client (quic-go or quinn) downloads <paramref name="transfer"/> from our hq server; bytes, request count
    /// and Retry use are verified on both sides. With quic-go, --retry must produce exactly one Retry (RFC 9000
    /// §8.1.2; expect-retry makes a missing one fail).
    /// </summary>
    private static async Task DownloadFromOurServerAsync(string peer, string transfer, bool retry, bool batched)
    {
        CancellationToken cancel = TestContext.Current.CancellationToken;
        using var temp = new TempDirectory();
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        (IReadOnlyList<HqTestFile> files, TestCertificateFiles certificateFiles) = Prepare(temp, certificate, transfer);
        await using HandshakeHarnessProcess server = await StartServerAsync(temp, certificateFiles, retry, batched);

        IReadOnlyList<string> urls = HqArguments.Urls(server.Address, files);
        await using PeerProcess client = peer == "quinn"
            ? PeerProcess.Start(InteropPeers.Require(InteropPeer.QuinnHqClient),
                QuinnHqClient.Arguments(urls, temp.Combine("download"), certificateFiles.CertificatePath, timeout: ClientTimeout), maxLifetime: ExitTimeout)
            : PeerProcess.Start(InteropPeers.Require(InteropPeer.GoHqClient),
                GoHqClient.Arguments(urls, temp.Combine("download"), certificateFiles.CertificatePath, timeout: ClientTimeout, expectRetry: retry), maxLifetime: ExitTimeout);
        int exitCode = await client.WaitForExitAsync(ExitTimeout, cancel);

        HqSummary summary = HqSummary.From(client);
        Assert.True(exitCode == 0 && summary.Succeeded, client.Describe(30) + server.Process.Describe(30));
        Assert.Equal(files.Count, summary.Files);
        HqTestFiles.AssertDownloaded(temp.Combine("download"), files, client.Describe(20));
        await AssertServerSawAsync(server, files.Count, retry, cancel);
    }

    private static async Task<HandshakeHarnessProcess> StartServerAsync(TempDirectory temp, TestCertificateFiles certificate, bool retry, bool batched = false)
    {
        List<string> arguments = ["--www", temp.Combine("www"), "--alpn", "hq-interop"];
        if (retry) arguments.Add("--retry");
        if (batched) arguments.Add("--batched");
        return await HandshakeHarnessProcess.StartAsync(certificate, exitAfterHandshakes: 1, arguments);
    }

    private static async Task AssertServerSawAsync(HandshakeHarnessProcess server, int requests, bool retry, CancellationToken cancel)
    {
        // Our side: the connection served every request, and used Retry exactly when asked (RFC 9000 §7.3 fields).
        string closed = await server.Process.WaitForLineAsync(l => l.StartsWith("CONNECTION_CLOSED ", StringComparison.Ordinal), TimeSpan.FromSeconds(15), cancellationToken: cancel);
        IReadOnlyDictionary<string, string> fields = GoHandshakeClient.ParseFields(closed);
        Assert.Equal(requests.ToString(System.Globalization.CultureInfo.InvariantCulture), fields["requests"]);
        Assert.Equal(retry ? "True" : "False", fields["retry"]);
    }

    private static IReadOnlyList<HqTestFile> MultiplexedFiles(string www)
        => HqTestFiles.Create(www, Enumerable.Range(0, 50).Select(i => ($"multi/file{i}", 1024L + (i * 641 % 31 * 1024))));

    private static (IReadOnlyList<HqTestFile> Files, TestCertificateFiles Certificate) Prepare(TempDirectory temp, TestCertificate certificate, string transfer)
    {
        string www = temp.Combine("www");
        IReadOnlyList<HqTestFile> files = transfer switch
        {
            "small" => [HqTestFiles.CreateOne(www, "small.bin", 1024)],
            "large" => [HqTestFiles.CreateOne(www, "large.bin", 10 * 1024 * 1024)],
            "multiplexed" => MultiplexedFiles(www),
            "large+multiplexed" => [HqTestFiles.CreateOne(www, "large.bin", 10 * 1024 * 1024), .. MultiplexedFiles(www)],
            _ => throw new ArgumentOutOfRangeException(nameof(transfer)),
        };
        return (files, certificate.WriteFiles(temp.Combine("cert")));
    }
}
