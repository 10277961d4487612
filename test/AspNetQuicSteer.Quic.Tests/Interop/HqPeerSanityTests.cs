namespace AspNetQuicSteer.Quic.Tests.Interop;

/// <summary>
/// Proves the hq-interop peers (our quic-go hqclient/hqserver and quinn-hqclient) work with each other before our own
/// hq server and client exist, and pins down what they print.
/// </summary>
[Trait("Category", "Interop")]
public sealed class HqPeerSanityTests
{
    private static readonly TimeSpan s_clientTimeout = TimeSpan.FromSeconds(12);
    private static readonly TimeSpan s_exitTimeout = TimeSpan.FromSeconds(15);

    // Transfers: "small" = one 1 KB file; "large" = one 10 MB file; "multiplexed" = 50 files of 1-31 KB requested at
    // once over one connection (the interop runner's "multiplexing" case).
    private const string Small = "small";
    private const string Large = "large";
    private const string Multiplexed = "multiplexed";

    [Theory]
    [InlineData(Small, false)]
    [InlineData(Large, false)]
    [InlineData(Multiplexed, false)]
    [InlineData(Small, true)]
    [InlineData(Large, true)]
    [InlineData(Multiplexed, true)]
    public async Task GoHqClient_Downloads_FromGoHqServer(string transfer, bool retry)
    {
        CancellationToken cancel = TestContext.Current.CancellationToken;
        using TempDirectory temp = new();
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        (IReadOnlyList<HqTestFile> files, TestCertificateFiles certificateFiles) = Prepare(temp, certificate, transfer);
        await using PeerProcess server = await GoHqServer.StartAsync(
            GoHqServer.Arguments(temp.Combine("www"), certificateFiles, retry: retry), cancellationToken: cancel);

        await using PeerProcess client = PeerProcess.Start(
            InteropPeers.Require(InteropPeer.GoHqClient),
            GoHqClient.Arguments(
                HqArguments.Urls(GoHqServer.Address(server), files), temp.Combine("download"), certificateFiles.CertificatePath,
                timeout: s_clientTimeout, expectRetry: retry),
            maxLifetime: s_exitTimeout);
        int exitCode = await client.WaitForExitAsync(s_exitTimeout, cancel);

        HqSummary summary = HqSummary.From(client);
        Assert.True(exitCode == 0 && summary.Succeeded, client.Describe(50) + server.Describe(20));
        Assert.Equal(files.Count, summary.Files);
        Assert.Equal(files.Sum(f => f.Size), summary.Bytes);
        Assert.Equal(1, summary.Connections);
        Assert.Equal(retry ? "1" : "0", summary.Fields["retries"]);
        Assert.Equal("hq-interop", summary.Fields["alpn"]);
        Assert.Equal("0x00000001", summary.Fields["version"]);
        Assert.Equal(files.Count, client.StandardOutputLines.Count(l => l.StartsWith("FILE /", StringComparison.Ordinal)));
        HqTestFiles.AssertDownloaded(temp.Combine("download"), files, client.Describe(20));

        IReadOnlyDictionary<string, string> connection = Assert.Single(
            await GoHqServer.WaitForConnectionsAsync(server, 1, TimeSpan.FromSeconds(5), cancel));
        Assert.Equal(HqArguments.Invariant(files.Count), connection["requests"]);
        Assert.Equal(retry ? "true" : "false", connection["retry_validated"]);
        Assert.Equal("Application error 0x0", connection["close"]);
        Assert.Equal(retry ? 1 : 0, server.StandardOutputLines.Count(l => l.StartsWith(GoHqServer.RetrySentPrefix, StringComparison.Ordinal)));
        Assert.Equal(files.Count, server.StandardOutputLines.Count(l => l.StartsWith(GoHqServer.RequestPrefix, StringComparison.Ordinal) && l.EndsWith(" result=ok", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData(Small, false)]
    [InlineData(Large, false)]
    [InlineData(Multiplexed, false)]
    [InlineData(Small, true)]
    [InlineData(Large, true)]
    [InlineData(Multiplexed, true)]
    public async Task QuinnHqClient_Downloads_FromGoHqServer(string transfer, bool retry)
    {
        CancellationToken cancel = TestContext.Current.CancellationToken;
        using TempDirectory temp = new();
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        (IReadOnlyList<HqTestFile> files, TestCertificateFiles certificateFiles) = Prepare(temp, certificate, transfer);
        string quinn = InteropPeers.Require(InteropPeer.QuinnHqClient);
        await using PeerProcess server = await GoHqServer.StartAsync(
            GoHqServer.Arguments(temp.Combine("www"), certificateFiles, retry: retry), cancellationToken: cancel);

        // Verify the certificate in half of the cases (webpki: DNS name only, hence SNI localhost).
        string? trustedCa = transfer == Large ? null : certificateFiles.CertificatePath;
        await using PeerProcess client = PeerProcess.Start(
            quinn,
            QuinnHqClient.Arguments(HqArguments.Urls(GoHqServer.Address(server), files), temp.Combine("download"), trustedCa, timeout: s_clientTimeout),
            maxLifetime: s_exitTimeout);
        int exitCode = await client.WaitForExitAsync(s_exitTimeout, cancel);

        HqSummary summary = HqSummary.From(client);
        Assert.True(exitCode == 0 && summary.Succeeded, client.Describe(50) + server.Describe(20));
        Assert.Equal(files.Count, summary.Files);
        Assert.Equal(files.Sum(f => f.Size), summary.Bytes);
        Assert.Equal("hq-interop", summary.Fields["alpn"]);
        HqTestFiles.AssertDownloaded(temp.Combine("download"), files, client.Describe(20));

        IReadOnlyDictionary<string, string> connection = Assert.Single(
            await GoHqServer.WaitForConnectionsAsync(server, 1, TimeSpan.FromSeconds(5), cancel));
        Assert.Equal(HqArguments.Invariant(files.Count), connection["requests"]);
        Assert.Equal(retry ? "true" : "false", connection["retry_validated"]);
        Assert.Equal("Application error 0x0", connection["close"]);
    }

    [Fact]
    public async Task GoHqClient_KeyUpdatesEvery100Packets_AndZeroRtt()
    {
        CancellationToken cancel = TestContext.Current.CancellationToken;
        using TempDirectory temp = new();
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        TestCertificateFiles certificateFiles = certificate.WriteFiles(temp.Combine("cert"));
        IReadOnlyList<HqTestFile> files = HqTestFiles.Create(temp.Combine("www"), [("a", 2_000_000), ("b", 3000), ("c", 4000)]);
        await using PeerProcess server = await GoHqServer.StartAsync(
            GoHqServer.Arguments(temp.Combine("www"), certificateFiles, quiet: true), cancellationToken: cancel);
        string goClient = InteropPeers.Require(InteropPeer.GoHqClient);
        IReadOnlyList<string> urls = HqArguments.Urls(GoHqServer.Address(server), files);

        await using (PeerProcess keyUpdate = PeerProcess.Start(
            goClient,
            GoHqClient.Arguments(urls.Take(1), temp.Combine("d1"), null, timeout: s_clientTimeout, keyUpdateInterval: 100, expectKeyUpdate: true),
            maxLifetime: s_exitTimeout))
        {
            Assert.True(await keyUpdate.WaitForExitAsync(s_exitTimeout, cancel) == 0, keyUpdate.Describe());
            HqSummary summary = HqSummary.From(keyUpdate);
            Assert.True(summary.Int("keyupdates_local") >= 5, summary.Line); // 2 MB is ~1500 packets
            IReadOnlyDictionary<string, string> connection = Assert.Single(
                await GoHqServer.WaitForConnectionsAsync(server, 1, TimeSpan.FromSeconds(5), cancel));
            Assert.Equal(summary.Fields["keyupdates_local"], connection["keyupdates_remote"]);
        }

        await using PeerProcess zeroRtt = PeerProcess.Start(
            goClient,
            GoHqClient.Arguments(urls, temp.Combine("d2"), null, timeout: s_clientTimeout, mode: HqClientMode.ZeroRtt),
            maxLifetime: s_exitTimeout);
        Assert.True(await zeroRtt.WaitForExitAsync(s_exitTimeout, cancel) == 0, zeroRtt.Describe());
        HqSummary zeroRttSummary = HqSummary.From(zeroRtt);
        Assert.Equal((2, "1", "1"), (zeroRttSummary.Connections, zeroRttSummary.Fields["resumed"], zeroRttSummary.Fields["zerortt"]));
        HqTestFiles.AssertDownloaded(temp.Combine("d2"), files);
        IReadOnlyList<IReadOnlyDictionary<string, string>> connections =
            await GoHqServer.WaitForConnectionsAsync(server, 3, TimeSpan.FromSeconds(5), cancel);
        Assert.Equal(("true", "true"), (connections[2]["resumed"], connections[2]["zerortt"]));
    }

    [Fact]
    public async Task QuinnHqClient_ForcedKeyUpdate_AndZeroRtt()
    {
        CancellationToken cancel = TestContext.Current.CancellationToken;
        using TempDirectory temp = new();
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        TestCertificateFiles certificateFiles = certificate.WriteFiles(temp.Combine("cert"));
        IReadOnlyList<HqTestFile> files = HqTestFiles.Create(temp.Combine("www"), [("a", 500_000), ("b", 3000), ("c", 4000)]);
        string quinn = InteropPeers.Require(InteropPeer.QuinnHqClient);
        await using PeerProcess server = await GoHqServer.StartAsync(
            GoHqServer.Arguments(temp.Combine("www"), certificateFiles, quiet: true), cancellationToken: cancel);
        IReadOnlyList<string> urls = HqArguments.Urls(GoHqServer.Address(server), files);

        await using (PeerProcess keyUpdate = PeerProcess.Start(
            quinn, QuinnHqClient.Arguments(urls.Take(1), temp.Combine("d1"), null, timeout: s_clientTimeout, forceKeyUpdate: true), maxLifetime: s_exitTimeout))
        {
            Assert.True(await keyUpdate.WaitForExitAsync(s_exitTimeout, cancel) == 0, keyUpdate.Describe());
            Assert.Equal("1", HqSummary.From(keyUpdate).Fields["keyupdates_forced"]);
            IReadOnlyDictionary<string, string> connection = Assert.Single(
                await GoHqServer.WaitForConnectionsAsync(server, 1, TimeSpan.FromSeconds(5), cancel));
            Assert.Equal("1", connection["keyupdates_remote"]);
            HqTestFiles.AssertDownloaded(temp.Combine("d1"), files.Take(1));
        }

        await using PeerProcess zeroRtt = PeerProcess.Start(
            quinn, QuinnHqClient.Arguments(urls, temp.Combine("d2"), null, timeout: s_clientTimeout, mode: HqClientMode.ZeroRtt), maxLifetime: s_exitTimeout);
        Assert.True(await zeroRtt.WaitForExitAsync(s_exitTimeout, cancel) == 0, zeroRtt.Describe());
        HqSummary summary = HqSummary.From(zeroRtt);
        Assert.Equal((2, "1"), (summary.Connections, summary.Fields["zerortt"]));
        HqTestFiles.AssertDownloaded(temp.Combine("d2"), files);
        IReadOnlyList<IReadOnlyDictionary<string, string>> connections =
            await GoHqServer.WaitForConnectionsAsync(server, 3, TimeSpan.FromSeconds(5), cancel);
        Assert.Equal(("true", "true"), (connections[2]["resumed"], connections[2]["zerortt"]));
    }

    [Fact]
    public async Task HqClients_FailWithExitCode1_WhenTheServerResetsAMissingFile()
    {
        CancellationToken cancel = TestContext.Current.CancellationToken;
        using TempDirectory temp = new();
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        TestCertificateFiles certificateFiles = certificate.WriteFiles(temp.Combine("cert"));
        IReadOnlyList<HqTestFile> files = HqTestFiles.Create(temp.Combine("www"), [("present", 100)]);
        await using PeerProcess server = await GoHqServer.StartAsync(
            GoHqServer.Arguments(temp.Combine("www"), certificateFiles), cancellationToken: cancel);
        IReadOnlyList<string> urls = HqArguments.Urls(GoHqServer.Address(server), ["/present", "/missing"]);

        await using PeerProcess go = PeerProcess.Start(
            InteropPeers.Require(InteropPeer.GoHqClient), GoHqClient.Arguments(urls, null, null, timeout: s_clientTimeout), maxLifetime: s_exitTimeout);
        Assert.Equal(1, await go.WaitForExitAsync(s_exitTimeout, cancel));
        Assert.Matches("^/missing: after 0 bytes: stream [04] canceled with error code 404$", HqSummary.From(go).Error);

        await using PeerProcess quinn = PeerProcess.Start(
            InteropPeers.Require(InteropPeer.QuinnHqClient), QuinnHqClient.Arguments(urls, null, null, timeout: s_clientTimeout), maxLifetime: s_exitTimeout);
        Assert.Equal(1, await quinn.WaitForExitAsync(s_exitTimeout, cancel));
        Assert.Equal("/missing: after 0 bytes: stream reset by peer: error 404", HqSummary.From(quinn).Error);

        await server.WaitForLineAsync(l => l == "REQ conn=1 path=/missing bytes=0 result=notfound", TimeSpan.FromSeconds(5), PeerStream.StandardOutput, cancel);
    }

    private static (IReadOnlyList<HqTestFile> Files, TestCertificateFiles Certificate) Prepare(
        TempDirectory temp, TestCertificate certificate, string transfer)
    {
        string www = temp.Combine("www");
        IReadOnlyList<HqTestFile> files = transfer switch
        {
            Small => [HqTestFiles.CreateOne(www, "small.bin", 1024)],
            Large => [HqTestFiles.CreateOne(www, "large.bin", 10 * 1024 * 1024)],
            Multiplexed => HqTestFiles.Create(
                www, Enumerable.Range(0, 50).Select(i => ($"multi/file{i}", 1024L + (i * 641 % 31 * 1024)))),
            _ => throw new ArgumentOutOfRangeException(nameof(transfer)),
        };
        return (files, certificate.WriteFiles(temp.Combine("cert")));
    }
}

/// <summary>Tests of <see cref="HqTestFiles"/> and the hq output parsers (no peer needed).</summary>
[Trait("Category", "Interop")]
public sealed class HqHelperTests
{
    [Fact]
    public void TestFiles_AreDeterministic_DistinctPerName_AndAddressableAtAnyOffset()
    {
        byte[] a = HqTestFiles.ExpectedContent("a", 100_000);
        Assert.Equal(a, HqTestFiles.ExpectedContent("a", 100_000));
        Assert.NotEqual(a, HqTestFiles.ExpectedContent("b", 100_000));
        byte[] middle = new byte[1001];
        HqTestFiles.Fill("a", 12_345, middle);
        Assert.Equal(a.AsSpan(12_345, 1001).ToArray(), middle);
        Assert.InRange(a.Distinct().Count(), 250, 256);
    }

    [Fact]
    public void FindMismatches_ReportsMissingTruncatedAndCorruptedFiles()
    {
        using TempDirectory temp = new();
        IReadOnlyList<HqTestFile> files = HqTestFiles.Create(temp.Path, [("ok", 70_000), ("short", 70_000), ("corrupt", 70_000), ("dir/gone", 5)]);
        Assert.Empty(HqTestFiles.FindMismatches(temp.Path, files));

        byte[] truncated = File.ReadAllBytes(temp.Combine("short"))[..69_999];
        File.WriteAllBytes(temp.Combine("short"), truncated);
        byte[] corrupt = File.ReadAllBytes(temp.Combine("corrupt"));
        corrupt[66_000] ^= 1;
        File.WriteAllBytes(temp.Combine("corrupt"), corrupt);
        File.Delete(temp.Combine("dir/gone"));

        IReadOnlyList<string> problems = HqTestFiles.FindMismatches(temp.Path, files);

        Assert.Equal(3, problems.Count);
        Assert.Equal("short: 69999 bytes, expected 70000", problems[0]);
        Assert.StartsWith("corrupt: first difference at offset 66000 (0x", problems[1], StringComparison.Ordinal);
        Assert.Equal("dir/gone: not downloaded", problems[2]);
        Assert.Throws<Xunit.Sdk.FailException>(() => HqTestFiles.AssertDownloaded(temp.Path, files));
    }

    [Fact]
    public void Parsers_ReadSummaryAndConnectionLines()
    {
        HqSummary ok = HqSummary.Parse("HQ_OK files=2 bytes=2048 ms=35 connections=1 alpn=hq-interop");
        Assert.True(ok.Succeeded);
        Assert.Equal((2, 2048L, 35L, 1), (ok.Files, ok.Bytes, ok.Milliseconds, ok.Connections));
        HqSummary failed = HqSummary.Parse("HQ_FAILED /x: after 0 bytes: boom");
        Assert.False(failed.Succeeded);
        Assert.Equal("/x: after 0 bytes: boom", failed.Error);

        IReadOnlyDictionary<string, string> conn = GoHqServer.ParseConnectionLine(
            "CONN n=3 remote=127.0.0.1:5 resumed=true requests=2 bytes=9 close=timeout: no recent network activity");
        Assert.Equal(("3", "true", "timeout: no recent network activity"), (conn["n"], conn["resumed"], conn["close"]));

        IReadOnlyList<string> arguments = GoHqClient.Arguments(["https://127.0.0.1:1/a"], "/out", null, mode: HqClientMode.ZeroRtt, keyUpdateInterval: 100);
        Assert.Equal(
            ["-sni", "localhost", "-mode", "zerortt", "-insecure", "-timeout", "10000ms", "-out", "/out", "-keyupdate", "100", "https://127.0.0.1:1/a"],
            arguments);
    }
}
