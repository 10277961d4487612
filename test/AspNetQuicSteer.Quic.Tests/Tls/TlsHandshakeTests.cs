using System.Security.Cryptography.X509Certificates;
using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Tls;
using TlsCipherSuite = AspNetQuicSteer.Quic.Crypto.TlsCipherSuite;

namespace AspNetQuicSteer.Quic.Tests.Tls;

/// <summary>Full in-memory client ↔ server handshakes (RFC 8446 §2, RFC 9001 §4.1).</summary>
public sealed class TlsHandshakeTests
{
    [Theory]
    [InlineData(0x1301, 0x001D)]
    [InlineData(0x1302, 0x001D)]
    [InlineData(0x1303, 0x001D)]
    [InlineData(0x1301, 0x0017)]
    [InlineData(0x1302, 0x0017)]
    [InlineData(0x1303, 0x0017)]
    public void EverySuiteAndGroup_CompletesWithMatchingSecrets(int suiteValue, int groupValue)
    {
        TlsCipherSuite suite = (TlsCipherSuite)suiteValue;
        TlsNamedGroup group = (TlsNamedGroup)groupValue;
        using TlsClientHandshake client = new(TlsTestPump.ClientOptions(suites: [suite], keyShares: [group]));
        using TlsServerHandshake server = new(TlsTestPump.ServerOptions(suites: [suite], groups: [group]));
        TlsTestPump pump = new();
        pump.Run(client, server);

        AssertCompleted(client, server, pump, suite, group);
        Assert.False(client.ReceivedHelloRetryRequest);
        Assert.Equal(suite.HashLength(), pump.ClientSecrets[0].Secret.Length);
    }

    /// <summary>Checks RFC 9001 §4.1.4 event order, secret agreement and the negotiated properties.</summary>
    internal static void AssertCompleted(TlsClientHandshake client, TlsServerHandshake server, TlsTestPump pump, TlsCipherSuite suite, TlsNamedGroup group)
    {
        Assert.True(client.IsHandshakeComplete);
        Assert.True(server.IsHandshakeComplete);
        Assert.Equal(suite, client.CipherSuite);
        Assert.Equal(suite, server.CipherSuite);
        Assert.Equal(group, client.NegotiatedGroup);
        Assert.Equal(group, server.NegotiatedGroup);
        Assert.Equal("h3", client.NegotiatedApplicationProtocol);
        Assert.Equal("h3", server.NegotiatedApplicationProtocol);
        Assert.Equal(TlsTestPump.ServerTransportParameters, client.PeerTransportParameters!.Value.ToArray());
        Assert.Equal(TlsTestPump.ClientTransportParameters, server.PeerTransportParameters!.Value.ToArray());
        Assert.Equal("localhost", server.ServerName);
        Assert.NotNull(client.PeerCertificate);
        Assert.Equal(client.ExporterMasterSecret, server.ExporterMasterSecret);

        // RFC 9001 §4.1.4: server releases Handshake read/write then 1-RTT write after the ClientHello, 1-RTT read last.
        Assert.Equal(
            [(EncryptionLevel.Handshake, TlsKeyDirection.Read), (EncryptionLevel.Handshake, TlsKeyDirection.Write), (EncryptionLevel.OneRtt, TlsKeyDirection.Write), (EncryptionLevel.OneRtt, TlsKeyDirection.Read)],
            pump.ServerSecrets.Select(s => (s.Level, s.Direction)));
        Assert.Equal(
            [(EncryptionLevel.Handshake, TlsKeyDirection.Read), (EncryptionLevel.Handshake, TlsKeyDirection.Write), (EncryptionLevel.OneRtt, TlsKeyDirection.Read), (EncryptionLevel.OneRtt, TlsKeyDirection.Write)],
            pump.ClientSecrets.Select(s => (s.Level, s.Direction)));
        Assert.All(pump.ClientSecrets.Concat(pump.ServerSecrets), s => Assert.Equal(suite, s.CipherSuite));
        foreach (EncryptionLevel level in (EncryptionLevel[])[EncryptionLevel.Handshake, EncryptionLevel.OneRtt])
        {
            Assert.Equal(
                TlsTestPump.SecretFor(pump.ClientSecrets, level, TlsKeyDirection.Write),
                TlsTestPump.SecretFor(pump.ServerSecrets, level, TlsKeyDirection.Read));
            Assert.Equal(
                TlsTestPump.SecretFor(pump.ServerSecrets, level, TlsKeyDirection.Write),
                TlsTestPump.SecretFor(pump.ClientSecrets, level, TlsKeyDirection.Read));
        }

        // Handshake bytes: client ClientHello(s) at Initial then Finished at Handshake; server ServerHello at Initial then the rest at Handshake.
        Assert.Equal(EncryptionLevel.Handshake, pump.ClientData[^1].Level);
        Assert.All(pump.ClientData.SkipLast(1), d => Assert.Equal(EncryptionLevel.Initial, d.Level));
        Assert.Equal(EncryptionLevel.Handshake, pump.ServerData[^1].Level);
    }

    [Fact]
    public void HelloRetryRequest_ClientOffersX25519ShareServerAcceptsOnlyP256()
    {
        // RFC 8446 §4.1.4: the client's key_share has no acceptable group but supported_groups does → HRR.
        using TlsClientHandshake client = new(TlsTestPump.ClientOptions(keyShares: [TlsNamedGroup.X25519]));
        using TlsServerHandshake server = new(TlsTestPump.ServerOptions(groups: [TlsNamedGroup.Secp256r1]));
        TlsTestPump pump = new();
        pump.Run(client, server);

        AssertCompleted(client, server, pump, TlsCipherSuite.Aes128GcmSha256, TlsNamedGroup.Secp256r1);
        Assert.True(client.ReceivedHelloRetryRequest);
        Assert.True(server.UsedHelloRetryRequest);
        Assert.Equal(2, pump.ClientData.Count(d => d.Level == EncryptionLevel.Initial));
    }

    [Fact]
    public void HelloRetryRequest_ClientOffersP256ShareServerAcceptsOnlyX25519()
    {
        using TlsClientHandshake client = new(TlsTestPump.ClientOptions(keyShares: [TlsNamedGroup.Secp256r1], suites: [TlsCipherSuite.Aes256GcmSha384]));
        using TlsServerHandshake server = new(TlsTestPump.ServerOptions(groups: [TlsNamedGroup.X25519]));
        TlsTestPump pump = new();
        pump.Run(client, server);

        AssertCompleted(client, server, pump, TlsCipherSuite.Aes256GcmSha384, TlsNamedGroup.X25519);
        Assert.True(client.ReceivedHelloRetryRequest);
    }

    [Fact]
    public void ServerPrefersGroupWithAShareOverHelloRetryRequest()
    {
        // RFC 8446 §4.2.8: ngtcp2 offers x25519 and secp256r1 shares; a P-256-first server must not force HRR.
        using TlsClientHandshake client = new(TlsTestPump.ClientOptions(keyShares: [TlsNamedGroup.X25519, TlsNamedGroup.Secp256r1]));
        using TlsServerHandshake server = new(TlsTestPump.ServerOptions(groups: [TlsNamedGroup.Secp256r1, TlsNamedGroup.X25519]));
        TlsTestPump pump = new();
        pump.Run(client, server);
        AssertCompleted(client, server, pump, TlsCipherSuite.Aes128GcmSha256, TlsNamedGroup.Secp256r1);
        Assert.False(client.ReceivedHelloRetryRequest);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    public void MessagesDeliveredInSmallPieces_Complete(int chunkSize)
    {
        // RFC 9001 §4.1.3: CRYPTO data arrives in arbitrary pieces; messages are reassembled per level.
        using TlsClientHandshake client = new(TlsTestPump.ClientOptions());
        using TlsServerHandshake server = new(TlsTestPump.ServerOptions());
        TlsTestPump pump = new() { ChunkSize = chunkSize };
        pump.Run(client, server);
        AssertCompleted(client, server, pump, TlsCipherSuite.Aes128GcmSha256, TlsNamedGroup.X25519);
    }

    [Fact]
    public void ClientHelloInTwoChunks_LikeChromium()
    {
        using TlsClientHandshake client = new(TlsTestPump.ClientOptions());
        using TlsServerHandshake server = new(TlsTestPump.ServerOptions());
        client.Start();
        Assert.True(client.TryGetHandshakeData(out EncryptionLevel level, out ReadOnlyMemory<byte> hello));
        Assert.Equal(EncryptionLevel.Initial, level);
        int half = hello.Length / 2;
        server.ReadHandshake(level, hello.Span[..half]);
        Assert.False(server.TryGetHandshakeData(out _, out _));
        server.ReadHandshake(level, hello.Span[half..]);
        Assert.True(server.TryGetHandshakeData(out EncryptionLevel shLevel, out _));
        Assert.Equal(EncryptionLevel.Initial, shLevel);
    }

    [Fact]
    public void SeveralMessagesInOneCall_AreAllProcessed()
    {
        // The server flight EE..Finished arrives as one chunk in TlsTestPump; here the client also gets
        // ServerHello and nothing else, then the whole Handshake flight in one call.
        using TlsClientHandshake client = new(TlsTestPump.ClientOptions());
        using TlsServerHandshake server = new(TlsTestPump.ServerOptions());
        client.Start();
        client.TryGetHandshakeData(out EncryptionLevel l, out ReadOnlyMemory<byte> ch);
        server.ReadHandshake(l, ch.Span);
        server.TryGetHandshakeData(out EncryptionLevel shLevel, out ReadOnlyMemory<byte> sh);
        server.TryGetHandshakeData(out EncryptionLevel flightLevel, out ReadOnlyMemory<byte> flight);
        Assert.Equal(EncryptionLevel.Handshake, flightLevel);
        client.ReadHandshake(shLevel, sh.Span);
        client.ReadHandshake(flightLevel, flight.Span);
        Assert.True(client.IsHandshakeComplete);
    }

    [Fact]
    public void AwaitingConfiguration_ExposesClientHelloThenContinues()
    {
        // Asynchronous certificate selection: no options until the ClientHello (SNI, ALPN) is known.
        using TlsClientHandshake client = new(TlsTestPump.ClientOptions());
        using TlsServerHandshake server = new();
        TlsTestPump pump = new();
        pump.Run(client, server);

        Assert.True(server.IsAwaitingConfiguration);
        Assert.False(server.TryGetHandshakeData(out _, out _));
        Assert.Equal("localhost", server.ClientHelloInfo!.ServerName);
        Assert.Equal("h3", server.ClientHelloInfo.ApplicationProtocols.Single().ToString());

        server.SetServerConfiguration(TlsTestPump.ServerOptions());
        Assert.False(server.IsAwaitingConfiguration);
        bool progress = true;
        while (progress)
        {
            progress = pump.Transfer(server, client, pump.ServerSecrets, pump.ServerData);
            progress |= pump.Transfer(client, server, pump.ClientSecrets, pump.ClientData);
        }

        TlsTestPump.Drain(server, pump.ServerSecrets);
        AssertCompleted(client, server, pump, TlsCipherSuite.Aes128GcmSha256, TlsNamedGroup.X25519);
    }

    [Theory]
    [InlineData("p256")]
    [InlineData("p384")]
    [InlineData("rsa")]
    public void CertificateKeyTypes_SignAndVerify(string kind)
    {
        X509Certificate2 certificate = kind switch
        {
            "p256" => TlsTestCertificates.EcdsaP256,
            "p384" => TlsTestCertificates.EcdsaP384,
            _ => TlsTestCertificates.Rsa2048,
        };
        using TlsClientHandshake client = new(TlsTestPump.ClientOptions(trustedRoot: certificate));
        using TlsServerHandshake server = new(TlsTestPump.ServerOptions(certificate: certificate));
        TlsTestPump pump = new();
        pump.Run(client, server);
        AssertCompleted(client, server, pump, TlsCipherSuite.Aes128GcmSha256, TlsNamedGroup.X25519);
        Assert.Equal(certificate.Thumbprint, client.PeerCertificate!.Thumbprint);
    }

    [Fact]
    public void ChainLeafIntermediateRoot_ClientTrustsOnlyRoot()
    {
        (X509Certificate2 leaf, X509Certificate2 intermediate, X509Certificate2 root) = TlsTestCertificates.Chain;
        using TlsClientHandshake client = new(TlsTestPump.ClientOptions(trustedRoot: root, serverName: "chain.test"));
        using TlsServerHandshake server = new(TlsTestPump.ServerOptions(certificate: leaf, chain: [intermediate]));
        TlsTestPump pump = new();
        pump.Run(client, server);
        Assert.True(client.IsHandshakeComplete);
        Assert.Equal(leaf.Thumbprint, client.PeerCertificate!.Thumbprint);
    }

    [Fact]
    public void IpLiteralServerName_NoSniAndIpSanMatches()
    {
        // RFC 6066 §3: no SNI for IP literals; the certificate is matched against its IP SANs.
        using TlsClientHandshake client = new(TlsTestPump.ClientOptions(serverName: "127.0.0.1"));
        using TlsServerHandshake server = new(TlsTestPump.ServerOptions());
        new TlsTestPump().Run(client, server);
        Assert.True(client.IsHandshakeComplete);
        Assert.Null(client.ServerName);
        Assert.Null(server.ServerName);
    }

    [Fact]
    public void ClientCertificate_RequestedVerifiedAndExposed()
    {
        X509Certificate2 clientCertificate = TlsTestCertificates.EcdsaP384;
        using TlsClientHandshake client = new(TlsTestPump.ClientOptions(clientCertificate: clientCertificate));
        using TlsServerHandshake server = new(TlsTestPump.ServerOptions(clientCertificateMode: TlsClientCertificateMode.Require, clientRoot: clientCertificate));
        new TlsTestPump().Run(client, server);
        Assert.True(client.IsHandshakeComplete);
        Assert.True(server.IsHandshakeComplete);
        Assert.Equal(clientCertificate.Thumbprint, server.PeerCertificate!.Thumbprint);
    }

    [Fact]
    public void ClientCertificate_RequiredButAbsent_CertificateRequired()
    {
        // RFC 8446 §4.4.2.4: the server may abort with certificate_required on an empty client Certificate.
        using TlsClientHandshake client = new(TlsTestPump.ClientOptions());
        using TlsServerHandshake server = new(TlsTestPump.ServerOptions(clientCertificateMode: TlsClientCertificateMode.Require));
        TlsAlertException e = Assert.Throws<TlsAlertException>(() => new TlsTestPump().Run(client, server));
        Assert.Equal(TlsAlert.CertificateRequired, e.Alert);
    }

    [Fact]
    public void ClientCertificate_OptionalAndAbsent_Completes()
    {
        using TlsClientHandshake client = new(TlsTestPump.ClientOptions());
        using TlsServerHandshake server = new(TlsTestPump.ServerOptions(clientCertificateMode: TlsClientCertificateMode.Allow));
        new TlsTestPump().Run(client, server);
        Assert.True(server.IsHandshakeComplete);
        Assert.Null(server.PeerCertificate);
    }

    [Fact]
    public void KeyLogSink_ReceivesNssLinesMatchingTheSecrets()
    {
        RecordingKeyLog clientLog = new(), serverLog = new();
        using TlsClientHandshake client = new(TlsTestPump.ClientOptions(keyLog: clientLog));
        using TlsServerHandshake server = new(TlsTestPump.ServerOptions(keyLog: serverLog));
        TlsTestPump pump = new();
        pump.Run(client, server);

        string random = Convert.ToHexStringLower(pump.ClientData[0].Data.AsSpan(6, 32));
        string Line(string label, byte[] secret) => $"{label} {random} {Convert.ToHexStringLower(secret)}";
        string[] expected =
        [
            Line("CLIENT_HANDSHAKE_TRAFFIC_SECRET", TlsTestPump.SecretFor(pump.ClientSecrets, EncryptionLevel.Handshake, TlsKeyDirection.Write)),
            Line("SERVER_HANDSHAKE_TRAFFIC_SECRET", TlsTestPump.SecretFor(pump.ServerSecrets, EncryptionLevel.Handshake, TlsKeyDirection.Write)),
            Line("CLIENT_TRAFFIC_SECRET_0", TlsTestPump.SecretFor(pump.ClientSecrets, EncryptionLevel.OneRtt, TlsKeyDirection.Write)),
            Line("SERVER_TRAFFIC_SECRET_0", TlsTestPump.SecretFor(pump.ServerSecrets, EncryptionLevel.OneRtt, TlsKeyDirection.Write)),
            Line("EXPORTER_SECRET", client.ExporterMasterSecret!),
        ];
        Assert.Equal(expected, clientLog.Lines);
        Assert.Equal(expected, serverLog.Lines);
    }

    private sealed class RecordingKeyLog : ITlsKeyLog
    {
        public List<string> Lines { get; } = [];

        public void WriteLine(string line)
        {
            lock (Lines)
            {
                Lines.Add(line);
            }
        }
    }
}
