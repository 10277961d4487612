using AspNetQuicSteer.Quic.Tls;
using System.Net;
using System.Net.Sockets;

namespace AspNetQuicSteer.Quic.Tests.Interop;

/// <summary>
/// Proves the interop peers and helpers work (peer against peer) before our own server exists, and pins down
/// exactly what the peers print when a QUIC handshake completes.
/// </summary>
[Trait("Category", "Interop")]
public sealed class PeerSanityTests
{
    private const string Body = "quicsteer interop body\n";
    private static readonly TimeSpan s_exitTimeout = TimeSpan.FromSeconds(8);

    [Fact]
    public async Task GtlsClient_CompletesHandshake_WithGtlsServer_DefaultGroups()
    {
        using TempDirectory temp = new();
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        await using PeerProcess server = await StartGtlsServerAsync(temp, certificate, quiet: true);

        await using PeerProcess client = StartGtlsClient(temp, server, quiet: false);
        int exitCode = await client.WaitForExitAsync(s_exitTimeout, TestContext.Current.CancellationToken);

        AssertGtlsClientCompleted(client, exitCode, temp, expectedCipher: "AES-128-GCM");
        TlsHello serverHello = SingleServerHello(client);
        Assert.False(serverHello.IsHelloRetryRequest);
        Assert.Equal([(ushort)TlsNamedGroup.X25519], serverHello.KeyShareGroups);
        Assert.Equal([(ushort)0x1301], serverHello.CipherSuites); // TLS_AES_128_GCM_SHA256
    }

    [Fact]
    public async Task GtlsClient_CompletesHandshake_WithGtlsServer_ForcedSecp256r1()
    {
        using TempDirectory temp = new();
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        await using PeerProcess server = await StartGtlsServerAsync(temp, certificate, quiet: true);

        await using PeerProcess client = StartGtlsClient(
            temp, server, quiet: false, "--groups=-GROUP-ALL:+GROUP-SECP256R1", "--ciphers=" + CipherPriority("AES-256-GCM"));
        int exitCode = await client.WaitForExitAsync(s_exitTimeout, TestContext.Current.CancellationToken);

        AssertGtlsClientCompleted(client, exitCode, temp, expectedCipher: "AES-256-GCM");
        TlsHello serverHello = SingleServerHello(client);
        Assert.False(serverHello.IsHelloRetryRequest);
        Assert.Equal([(ushort)TlsNamedGroup.Secp256r1], serverHello.KeyShareGroups);
        Assert.Equal([(ushort)0x1302], serverHello.CipherSuites); // TLS_AES_256_GCM_SHA384
    }

    [Fact]
    public async Task GtlsClient_OffersX25519AndSecp256r1KeyShares_SoAP256OnlyServerNeedsNoRetry()
    {
        using TempDirectory temp = new();
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        await using PeerProcess server = await StartGtlsServerAsync(
            temp, certificate, quiet: false, "--groups=-GROUP-ALL:+GROUP-SECP256R1");

        await using PeerProcess client = StartGtlsClient(temp, server, quiet: false);
        int exitCode = await client.WaitForExitAsync(s_exitTimeout, TestContext.Current.CancellationToken);

        AssertGtlsClientCompleted(client, exitCode, temp, expectedCipher: "AES-128-GCM");
        Assert.Equal([(ushort)TlsNamedGroup.Secp256r1], SingleServerHello(client).KeyShareGroups);

        await server.WaitForLineAsync(l => l == NgtcpOutput.HandshakeCompleted, s_exitTimeout, PeerStream.StandardError, TestContext.Current.CancellationToken);
        TlsHello clientHello = Assert.Single(
            TlsHello.ParseAll(NgtcpOutput.ReceivedCryptoData(server.StandardErrorLines, "Initial")));
        Assert.Equal(TlsHello.ClientHelloType, clientHello.HandshakeType);
        Assert.Equal([(ushort)TlsNamedGroup.X25519, (ushort)TlsNamedGroup.Secp256r1], clientHello.KeyShareGroups);
        Assert.Equal(["h3"], clientHello.AlpnProtocols);
    }

    [Fact]
    public async Task GtlsClient_Quiet_PrintsNothing_SoOnlyTheDownloadProvesCompletion()
    {
        using TempDirectory temp = new();
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        await using PeerProcess server = await StartGtlsServerAsync(temp, certificate, quiet: true);

        await using PeerProcess client = StartGtlsClient(temp, server, quiet: true);
        int exitCode = await client.WaitForExitAsync(s_exitTimeout, TestContext.Current.CancellationToken);

        Assert.True(exitCode == 0, client.Output);
        Assert.True(client.Lines.Count == 0, client.Output);
        Assert.Equal(Body, await File.ReadAllTextAsync(temp.Combine("download/hello.txt"), TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task GtlsClient_ExitsZero_EvenWhenTheHandshakeTimesOut()
    {
        // A bound socket that never answers: no ICMP port-unreachable, the handshake just times out.
        using Socket silent = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)silent.LocalEndPoint!).Port;
        string portText = port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        await using PeerProcess client = PeerProcess.Start(
            InteropPeers.Require(InteropPeer.GtlsClient),
            ["-q", "--exit-on-all-streams-close", "--handshake-timeout=1s", "127.0.0.1", portText, $"https://127.0.0.1:{portText}/"],
            maxLifetime: TimeSpan.FromSeconds(10));
        int exitCode = await client.WaitForExitAsync(s_exitTimeout, TestContext.Current.CancellationToken);

        Assert.True(exitCode == 0, client.Output); // so an exit code of 0 alone proves nothing
        Assert.Equal([NgtcpOutput.HandshakeTimeout], client.StandardErrorLines);
    }

    [Theory]
    [InlineData(null, (ushort)TlsNamedGroup.X25519)]
    [InlineData("p256", (ushort)TlsNamedGroup.Secp256r1)]
    public async Task GoHandshakeClient_CompletesHandshake_WithGtlsServer(string? curves, ushort expectedKeyShare)
    {
        using TempDirectory temp = new();
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        await using PeerProcess server = await StartGtlsServerAsync(temp, certificate, quiet: false);
        string keyLog = temp.Combine("keylog.txt");

        await using PeerProcess client = PeerProcess.Start(
            InteropPeers.Require(InteropPeer.GoHandshakeClient),
            // quic-go reports the handshake done once it has sent its Finished; closing at once can let the
            // CONNECTION_CLOSE overtake the Finished on loopback, so the server would never complete. Hold briefly.
            GoHandshakeClient.Arguments(Address(server), temp.Combine("cert.pem"), curves: curves, hold: TimeSpan.FromMilliseconds(300)),
            new Dictionary<string, string?> { ["SSLKEYLOGFILE"] = keyLog },
            maxLifetime: TimeSpan.FromSeconds(10));
        int exitCode = await client.WaitForExitAsync(s_exitTimeout, TestContext.Current.CancellationToken);

        Assert.True(exitCode == 0, client.Output);
        IReadOnlyList<string> lines = client.StandardOutputLines;
        Assert.True(lines.Count == 3, client.Output);
        Assert.Equal(
            "HANDSHAKE_OK alpn=h3 version=0x00000001 cipher=TLS_AES_128_GCM_SHA256 tls=0x0304 sni=localhost resumed=false datagrams=false",
            lines[0]);
        IReadOnlyDictionary<string, string> tp = GoHandshakeClient.ParseFields(lines[1]);
        Assert.StartsWith(GoHandshakeClient.PeerTransportParametersPrefix, lines[1], StringComparison.Ordinal);
        Assert.Equal("100", tp["initial_max_streams_bidi"]); // gtlsserver's values
        Assert.Equal("3", tp["initial_max_streams_uni"]);
        Assert.Equal("CLOSED code=0x0", lines[2]);

        string[] labels = [.. (await File.ReadAllLinesAsync(keyLog, TestContext.Current.CancellationToken)).Select(l => l.Split(' ')[0])];
        Assert.Equal(
            ["CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"],
            labels);

        await server.WaitForLineAsync(l => l == NgtcpOutput.HandshakeCompleted, s_exitTimeout, PeerStream.StandardError, TestContext.Current.CancellationToken);
        TlsHello clientHello = Assert.Single(
            TlsHello.ParseAll(NgtcpOutput.ReceivedCryptoData(server.StandardErrorLines, "Initial")));
        Assert.Equal([expectedKeyShare], clientHello.KeyShareGroups); // one key share only
        Assert.Equal(["h3"], clientHello.AlpnProtocols);
    }

    [Fact]
    public async Task GoHandshakeClient_TrustsRsaCertificate_AndRejectsWrongName()
    {
        using TempDirectory temp = new();
        using TestCertificate certificate = TestCertificates.CreateRsa();
        await using PeerProcess server = await StartGtlsServerAsync(temp, certificate, quiet: true);
        string goClient = InteropPeers.Require(InteropPeer.GoHandshakeClient);

        await using (PeerProcess good = PeerProcess.Start(
            goClient, GoHandshakeClient.Arguments(Address(server), temp.Combine("cert.pem")), maxLifetime: TimeSpan.FromSeconds(10)))
        {
            Assert.True(await good.WaitForExitAsync(s_exitTimeout, TestContext.Current.CancellationToken) == 0, good.Output);
            Assert.StartsWith(GoHandshakeClient.SuccessPrefix + "alpn=h3 ", good.StandardOutputLines[0], StringComparison.Ordinal);
        }

        await using PeerProcess bad = PeerProcess.Start(
            goClient,
            GoHandshakeClient.Arguments(Address(server), temp.Combine("cert.pem"), sni: "other.example"),
            maxLifetime: TimeSpan.FromSeconds(10));
        int exitCode = await bad.WaitForExitAsync(s_exitTimeout, TestContext.Current.CancellationToken);

        Assert.True(exitCode == 1, bad.Output);
        string line = Assert.Single(bad.StandardOutputLines);
        Assert.StartsWith(GoHandshakeClient.FailurePrefix + "CRYPTO_ERROR (0x12a): x509: certificate is valid for localhost", line, StringComparison.Ordinal);
    }

    private static string Address(PeerProcess server) => (string)server.Tag!;

    private static string CipherPriority(string cipher) => $"NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+{cipher}";

    private static async Task<PeerProcess> StartGtlsServerAsync(
        TempDirectory temp, TestCertificate certificate, bool quiet, params string[] extraArguments)
    {
        string gtlsServer = InteropPeers.Require(InteropPeer.GtlsServer);
        TestCertificateFiles files = certificate.WriteFiles(temp.Path);
        string docRoot = temp.Combine("docroot");
        Directory.CreateDirectory(docRoot);
        await File.WriteAllTextAsync(Path.Combine(docRoot, "hello.txt"), Body, TestContext.Current.CancellationToken);

        int port = FreeUdpPort.GetLoopbackPort();
        List<string> arguments = quiet ? ["-q"] : [];
        arguments.AddRange(extraArguments);
        arguments.AddRange(["-d", docRoot, "127.0.0.1", port.ToString(System.Globalization.CultureInfo.InvariantCulture), files.KeyPath, files.CertificatePath]);
        PeerProcess server = PeerProcess.Start(gtlsServer, arguments, maxLifetime: TimeSpan.FromSeconds(30));
        server.Tag = $"127.0.0.1:{port}";
        try
        {
            await FreeUdpPort.WaitUntilBoundAsync(port, TimeSpan.FromSeconds(5), server);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        return server;
    }

    private static PeerProcess StartGtlsClient(TempDirectory temp, PeerProcess server, bool quiet, params string[] extraArguments)
    {
        string gtlsClient = InteropPeers.Require(InteropPeer.GtlsClient);
        string address = Address(server);
        int colon = address.LastIndexOf(':');
        List<string> arguments = quiet ? ["-q"] : [];
        arguments.AddRange(extraArguments);
        arguments.AddRange([
            "--exit-on-all-streams-close", "--handshake-timeout=3s", "--timeout=5s", "--download=" + temp.Combine("download"),
            address[..colon], address[(colon + 1)..], $"https://{address}/hello.txt",
        ]);
        Directory.CreateDirectory(temp.Combine("download"));
        return PeerProcess.Start(gtlsClient, arguments, maxLifetime: TimeSpan.FromSeconds(15));
    }

    private static void AssertGtlsClientCompleted(PeerProcess client, int exitCode, TempDirectory temp, string expectedCipher)
    {
        // gtlsclient exits 0 even on handshake timeout or a peer's CONNECTION_CLOSE: the markers are what count.
        Assert.True(exitCode == 0, client.Output);
        IReadOnlyList<string> stderr = client.StandardErrorLines;
        int completed = IndexOf(stderr, NgtcpOutput.HandshakeCompleted, client);
        Assert.Equal(NgtcpOutput.NegotiatedCipherPrefix + expectedCipher, stderr[completed + 1]);
        Assert.Equal(NgtcpOutput.NegotiatedAlpnPrefix + "h3", stderr[completed + 2]);
        Assert.True(IndexOf(stderr, NgtcpOutput.HandshakeConfirmed, client) > completed, client.Describe());
        IndexOf(stderr, "HTTP stream 0 closed with error code 256", client); // H3_NO_ERROR after the response
        Assert.DoesNotContain(stderr, l => l.Contains("ERR_", StringComparison.Ordinal));
        Assert.Equal(Body, File.ReadAllText(temp.Combine("download/hello.txt")));
    }

    private static int IndexOf(IReadOnlyList<string> lines, string line, PeerProcess process)
    {
        for (int i = 0; i < lines.Count; i++)
        {
            if (lines[i] == line)
            {
                return i;
            }
        }

        Assert.Fail($"Expected the line \"{line}\".\n{process.Describe()}");
        return -1;
    }

    private static TlsHello SingleServerHello(PeerProcess client)
    {
        IReadOnlyList<TlsHello> hellos = TlsHello.ParseAll(NgtcpOutput.ReceivedCryptoData(client.StandardErrorLines, "Initial"));
        TlsHello hello = Assert.Single(hellos);
        Assert.Equal(TlsHello.ServerHelloType, hello.HandshakeType);
        return hello;
    }
}
