using AspNetQuicSteer.Quic.Tls;

namespace AspNetQuicSteer.Quic.Tests.Interop;

/// <summary>
/// Real peers complete QUIC v1 + TLS 1.3 handshakes against our UDP harness over loopback (issue 2 acceptance).
/// A handshake counts when the peer's own log says it completed and our side reports 1-RTT keys.
/// </summary>
[Trait("Category", "Interop")]
public sealed class HandshakeInteropTests
{
    private static readonly TimeSpan PeerTimeout = TimeSpan.FromSeconds(20);

    /// <summary>
    /// The Go client reports completion as soon as it has 1-RTT keys; closing right then can race its own client
    /// Finished out of the wire. Holding the connection lets the server finish and close it (H3_NO_ERROR).
    /// </summary>
    private static readonly TimeSpan GoClientHold = TimeSpan.FromSeconds(3);

    [Theory]
    [InlineData(null, "X25519")]
    [InlineData("-GROUP-ALL:+GROUP-SECP256R1", "Secp256r1")]
    public async Task GtlsClientCompletesTheHandshake(string? groups, string expectedGroup)
    {
        string gtlsclient = InteropPeers.Require(InteropPeer.GtlsClient);
        using var certificate = TestCertificates.CreateEcdsaP256();
        using var directory = new TempDirectory();
        await using var harness = await HandshakeHarnessProcess.StartAsync(certificate.WriteFiles(directory.Path), exitAfterHandshakes: 1);

        List<string> arguments = ["--exit-on-all-streams-close", "--handshake-timeout=5s", "--timeout=8s"];
        if (groups is not null) arguments.Add($"--groups={groups}");
        arguments.AddRange(["127.0.0.1", harness.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), $"https://{harness.Address}/"]);
        await using var client = PeerProcess.Start(gtlsclient, arguments);
        await client.WaitForExitAsync(PeerTimeout, TestContext.Current.CancellationToken);

        // gtlsclient's exit code proves nothing (it exits 0 on a handshake timeout); its log lines do.
        Assert.Contains(NgtcpOutput.HandshakeCompleted, client.StandardErrorLines);
        Assert.Contains("Negotiated ALPN is h3", client.StandardErrorLines);
        Assert.Contains(NgtcpOutput.HandshakeConfirmed, client.StandardErrorLines);

        IReadOnlyDictionary<string, string> ours = await harness.WaitForHandshakeAsync(PeerTimeout);
        Assert.Equal("installed", ours["one_rtt_keys"]);
        Assert.Equal(expectedGroup, ours["group"]);
        Assert.Equal("h3", ours["alpn"]);

        // Our CONNECTION_CLOSE (H3_NO_ERROR) reached the peer: it drained.
        Assert.Contains(client.StandardErrorLines, l => l.Contains("CONNECTION_CLOSE(0x1d) error_code=(unknown)(0x100)", StringComparison.Ordinal));
        Assert.Equal(0, await harness.Process.WaitForExitAsync(PeerTimeout, TestContext.Current.CancellationToken));
    }

    [Theory]
    [InlineData("AES-128-GCM", "Aes128GcmSha256")]
    [InlineData("AES-256-GCM", "Aes256GcmSha384")]
    [InlineData("CHACHA20-POLY1305", "ChaCha20Poly1305Sha256")]
    public async Task GtlsClientCompletesWithEachCipherSuite(string gnutlsCipher, string expectedSuite)
    {
        // RFC 9001 §5.3 / §5.4: each AEAD and its header protection (ChaCha20 HP included) interoperates.
        string gtlsclient = InteropPeers.Require(InteropPeer.GtlsClient);
        using var certificate = TestCertificates.CreateEcdsaP256();
        using var directory = new TempDirectory();
        await using var harness = await HandshakeHarnessProcess.StartAsync(certificate.WriteFiles(directory.Path), exitAfterHandshakes: 1);

        await using var client = PeerProcess.Start(gtlsclient,
        [
            "--exit-on-all-streams-close", "--handshake-timeout=5s", "--timeout=8s",
            $"--ciphers=NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+{gnutlsCipher}",
            "127.0.0.1", harness.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), $"https://{harness.Address}/",
        ]);
        await client.WaitForExitAsync(PeerTimeout, TestContext.Current.CancellationToken);

        Assert.Contains(NgtcpOutput.HandshakeCompleted, client.StandardErrorLines);
        Assert.Contains($"Negotiated cipher suite is {gnutlsCipher}", client.StandardErrorLines);
        IReadOnlyDictionary<string, string> ours = await harness.WaitForHandshakeAsync(PeerTimeout);
        Assert.Equal(expectedSuite, ours["cipher"]);
    }

    [Theory]
    [InlineData(null, null, "X25519", "False")]
    [InlineData("p256", null, "Secp256r1", "False")]
    [InlineData(null, "secp256r1", "Secp256r1", "True")]
    public async Task QuicGoClientCompletesTheHandshake(string? clientCurves, string? serverGroups, string expectedGroup, string expectedHelloRetry)
    {
        // The third case: quic-go offers only an X25519 share, our server accepts only secp256r1, so the server
        // must send a HelloRetryRequest (RFC 8446 §4.1.4) and quic-go must complete after it.
        string goClient = InteropPeers.Require(InteropPeer.GoHandshakeClient);
        using var certificate = TestCertificates.CreateEcdsaP256();
        using var directory = new TempDirectory();
        TestCertificateFiles files = certificate.WriteFiles(directory.Path);
        await using var harness = await HandshakeHarnessProcess.StartAsync(files, exitAfterHandshakes: 1,
            serverGroups is null ? null : ["--groups", serverGroups]);

        // The Go client validates our chain against the test CA file and checks the host name.
        await using var client = PeerProcess.Start(goClient, GoHandshakeClient.Arguments(harness.Address, files.CertificatePath, curves: clientCurves, hold: GoClientHold));
        int exitCode = await client.WaitForExitAsync(PeerTimeout, TestContext.Current.CancellationToken);

        Assert.True(exitCode == 0, client.Describe());
        string ok = Assert.Single(client.StandardOutputLines, l => l.StartsWith(GoHandshakeClient.SuccessPrefix, StringComparison.Ordinal));
        IReadOnlyDictionary<string, string> peer = GoHandshakeClient.ParseFields(ok);
        Assert.Equal("h3", peer["alpn"]);
        Assert.Equal("0x00000001", peer["version"]);

        IReadOnlyDictionary<string, string> ours = await harness.WaitForHandshakeAsync(PeerTimeout);
        Assert.Equal(expectedGroup, ours["group"]);
        Assert.Equal(expectedHelloRetry, ours["hrr"]);
        Assert.Equal("installed", ours["one_rtt_keys"]);

        // Our H3_NO_ERROR close reached the peer while it held the connection.
        Assert.Contains(client.StandardOutputLines, l => l.StartsWith(GoHandshakeClient.PeerClosedPrefix, StringComparison.Ordinal) && l.Contains("code=0x100", StringComparison.Ordinal));
    }

    [Fact]
    public async Task KeyLogMatchesThePeersKeyLog()
    {
        // SSLKEYLOGFILE (NSS format) on both ends must hold the same traffic secrets for the same client random.
        string goClient = InteropPeers.Require(InteropPeer.GoHandshakeClient);
        using var certificate = TestCertificates.CreateEcdsaP256();
        using var directory = new TempDirectory();
        TestCertificateFiles files = certificate.WriteFiles(directory.Path);
        string ourLog = directory.Combine("server.keys");
        string peerLog = directory.Combine("client.keys");
        await using var harness = await HandshakeHarnessProcess.StartAsync(files, exitAfterHandshakes: 1,
            environment: new Dictionary<string, string?> { ["SSLKEYLOGFILE"] = ourLog });

        await using var client = PeerProcess.Start(goClient, GoHandshakeClient.Arguments(harness.Address, files.CertificatePath, hold: GoClientHold),
            new Dictionary<string, string?> { ["SSLKEYLOGFILE"] = peerLog });
        Assert.Equal(0, await client.WaitForExitAsync(PeerTimeout, TestContext.Current.CancellationToken));
        await harness.WaitForHandshakeAsync(PeerTimeout);
        Assert.Equal(0, await harness.Process.WaitForExitAsync(PeerTimeout, TestContext.Current.CancellationToken));

        string[] labels = ["CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"];
        string[] ours = File.ReadAllLines(ourLog);
        string[] theirs = File.ReadAllLines(peerLog);
        foreach (string label in labels)
        {
            string expected = Assert.Single(theirs, l => l.StartsWith(label + " ", StringComparison.Ordinal));
            Assert.Contains(expected, ours);
        }
    }

    [Fact]
    public async Task QuicGoClientRejectsAWrongHostName()
    {
        // The peer validates our certificate for real: a wrong SNI fails on its side with a certificate error.
        string goClient = InteropPeers.Require(InteropPeer.GoHandshakeClient);
        using var certificate = TestCertificates.CreateEcdsaP256();
        using var directory = new TempDirectory();
        TestCertificateFiles files = certificate.WriteFiles(directory.Path);
        await using var harness = await HandshakeHarnessProcess.StartAsync(files, exitAfterHandshakes: 1);

        await using var client = PeerProcess.Start(goClient, GoHandshakeClient.Arguments(harness.Address, files.CertificatePath, sni: "wrong.example"));
        Assert.Equal(1, await client.WaitForExitAsync(PeerTimeout, TestContext.Current.CancellationToken));
        Assert.Contains(client.StandardOutputLines, l => l.StartsWith(GoHandshakeClient.FailurePrefix, StringComparison.Ordinal) && l.Contains("x509", StringComparison.Ordinal));

        // Our server sees the client's CRYPTO_ERROR close (0x100 + bad_certificate 42 = 0x12a).
        string closed = await harness.Process.WaitForLineAsync(l => l.StartsWith("CONNECTION_CLOSED ", StringComparison.Ordinal), PeerTimeout, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Contains($"peer transport error 0x{0x100 + (int)TlsAlert.BadCertificate:x}", closed, StringComparison.Ordinal);
    }
}
