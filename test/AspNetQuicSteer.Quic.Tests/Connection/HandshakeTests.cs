using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Tests.Harness;
using AspNetQuicSteer.Quic.Tests.Interop;
using AspNetQuicSteer.Quic.Tls;
using TlsCipherSuite = AspNetQuicSteer.Quic.Crypto.TlsCipherSuite;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Tests.Connection;

/// <summary>Full QUIC v1 handshakes between our client and server connections over the simulated network.</summary>
public sealed class HandshakeTests
{
    /// <summary>Cipher suite and group code points (RFC 8446 §B.4, §4.2.7); the enums themselves are internal.</summary>
    public static TheoryData<ushort, ushort> SuitesAndGroups()
    {
        var data = new TheoryData<ushort, ushort>();
        foreach (TlsCipherSuite suite in Enum.GetValues<TlsCipherSuite>())
        {
            foreach (TlsNamedGroup group in new[] { TlsNamedGroup.X25519, TlsNamedGroup.Secp256r1 })
            {
                data.Add((ushort)suite, (ushort)group);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SuitesAndGroups))]
    public void CompletesForEachCipherSuiteAndGroup(ushort suiteCode, ushort groupCode)
    {
        var suite = (TlsCipherSuite)suiteCode;
        var group = (TlsNamedGroup)groupCode;
        using var pair = HandshakePair.Create(new HandshakeSetup
        {
            ClientCipherSuites = [suite],
            ClientKeyShareGroups = [group],
        });

        Assert.True(pair.RunHandshake(), Describe(pair));
        QuicConnection server = pair.ServerConnection!;
        Assert.Equal(suite, pair.Client.Tls.CipherSuite);
        Assert.Equal(suite, server.Tls.CipherSuite);
        Assert.Equal(group, ((TlsServerHandshake)server.Tls).NegotiatedGroup);
        Assert.False(((TlsServerHandshake)server.Tls).UsedHelloRetryRequest);
        Assert.Equal("h3", pair.Client.Tls.NegotiatedApplicationProtocol);
        Assert.Equal("localhost", server.Tls.ServerName);

        // RFC 9000 §7.3: each side saw the other's transport parameters with authenticated CIDs.
        Assert.Equal(server.LocalConnectionId, pair.Client.PeerTransportParameters!.InitialSourceConnectionId);
        Assert.Equal(pair.Client.OriginalDestinationConnectionId, pair.Client.PeerTransportParameters.OriginalDestinationConnectionId);
        Assert.Equal(pair.Client.LocalConnectionId, server.PeerTransportParameters!.InitialSourceConnectionId);

        // RFC 9001 §4.1.2 / §4.9: both confirmed; the client switched to the server's CID (RFC 9000 §7.2).
        Assert.Equal(QuicConnectionState.Connected, pair.Client.State);
        Assert.Equal(server.LocalConnectionId, pair.Client.RemoteConnectionId);
        Assert.Equal(0, pair.Client.Stats.PacketsLost);
    }

    [Fact]
    public void HelloRetryRequestWhenTheClientsKeyShareDoesNotFit()
    {
        // RFC 8446 §4.1.4: the client offers only an X25519 share; the server accepts only secp256r1.
        using var pair = HandshakePair.Create(new HandshakeSetup
        {
            ClientKeyShareGroups = [TlsNamedGroup.X25519],
            ServerGroups = [TlsNamedGroup.Secp256r1],
        });

        Assert.True(pair.RunHandshake(), Describe(pair));
        var serverTls = (TlsServerHandshake)pair.ServerConnection!.Tls;
        Assert.True(serverTls.UsedHelloRetryRequest);
        Assert.Equal(TlsNamedGroup.Secp256r1, serverTls.NegotiatedGroup);
        Assert.Equal(TlsNamedGroup.Secp256r1, ((TlsClientHandshake)pair.Client.Tls).NegotiatedGroup);
    }

    [Fact]
    public void ClientHelloSpreadOverTwoInitialPacketsDeliveredOutOfOrder()
    {
        // A ClientHello larger than one packet (many ALPN ids, as a Chromium ClientHello with a post-quantum
        // share is), its two Initial datagrams swapped on the link. RFC 9000 §19.6 CRYPTO offsets reassemble it.
        var alpn = new List<SslApplicationProtocol>();
        for (int i = 0; i < 60; i++) alpn.Add(new SslApplicationProtocol($"x-padding-protocol-{i:D3}"));
        alpn.Add(SslApplicationProtocol.Http3);

        using var pair = HandshakePair.Create(new HandshakeSetup { ClientAlpn = alpn });
        SimulatedDatagram? held = null;
        int clientInitialDatagrams = 0;
        pair.Network.Filter = datagram =>
        {
            if (!datagram.To.Equals(HandshakePair.ServerAddress) || clientInitialDatagrams >= 2) return [datagram];
            clientInitialDatagrams++;
            if (held is null)
            {
                held = datagram;
                return [];
            }

            return [datagram, held];
        };

        Assert.True(pair.RunHandshake(), Describe(pair));
        Assert.Equal(2, clientInitialDatagrams);
        Assert.Equal("h3", pair.ServerConnection!.Tls.NegotiatedApplicationProtocol);
    }

    [Fact]
    public void UntrustedServerCertificateFailsOnTheClientWithATypedCryptoError()
    {
        using TestCertificate otherRoot = TestCertificates.CreateEcdsaP256();
        using var pair = HandshakePair.Create(new HandshakeSetup { ClientTrustedRoots = [otherRoot.Certificate] });

        Assert.False(pair.RunHandshake(), "The handshake must not complete with an untrusted certificate.");
        QuicConnectionError clientError = pair.Client.CloseError!;
        Assert.True(clientError.IsLocal);
        Assert.False(clientError.IsApplicationError);

        // RFC 9001 §4.8: the TLS alert travels as CRYPTO_ERROR 0x100 + alert.
        ulong alert = clientError.ErrorCode - (ulong)TransportErrorCode.CryptoErrorBase;
        Assert.True(alert is (ulong)TlsAlert.BadCertificate or (ulong)TlsAlert.UnknownCa, clientError.ToString());

        Assert.True(pair.RunUntilClosed(TimeSpan.FromSeconds(10)), Describe(pair));
        Assert.Equal(clientError.ErrorCode, pair.ServerConnection!.CloseError!.ErrorCode);
        Assert.False(pair.ServerConnection.CloseError.IsLocal);
    }

    [Fact]
    public void WrongHostNameFailsCertificateValidation()
    {
        using var pair = HandshakePair.Create(new HandshakeSetup { ServerName = "not-localhost.example" });
        Assert.False(pair.RunHandshake());
        Assert.Equal((ulong)TransportErrorCode.CryptoErrorBase + (ulong)TlsAlert.BadCertificate, pair.Client.CloseError!.ErrorCode);
    }

    [Fact]
    public void NoCommonAlpnClosesWithNoApplicationProtocol()
    {
        // RFC 9001 §8.1: without an ALPN match the server fails with no_application_protocol (0x178).
        using var pair = HandshakePair.Create(new HandshakeSetup { ClientAlpn = [new SslApplicationProtocol("hq-interop")] });
        Assert.False(pair.RunHandshake());
        Assert.True(pair.RunUntilClosed(TimeSpan.FromSeconds(10)), Describe(pair));
        Assert.Equal(0x178UL, pair.ServerConnection!.CloseError!.ErrorCode);
        Assert.Equal(0x178UL, pair.Client.CloseError!.ErrorCode);
        Assert.False(pair.Client.CloseError.IsLocal);
    }

    [Theory]
    [InlineData(0.1)]
    [InlineData(0.2)]
    [InlineData(0.3)]
    public void CompletesOverALossyReorderingDuplicatingLink(double lossRate)
    {
        // RFC 9002 §6.2: PTO probes and CRYPTO retransmission carry the handshake through loss. Many seeds, so many
        // different datagrams are lost; every handshake must complete.
        long dropped = 0, probes = 0;
        for (int seed = 1; seed <= 40; seed++)
        {
            using var pair = HandshakePair.Create(new HandshakeSetup
            {
                Link = new LinkOptions { LossRate = lossRate, Jitter = TimeSpan.FromMilliseconds(15), DuplicateRate = 0.1 },
                Seed = seed,
            });

            Assert.True(pair.RunHandshake(TimeSpan.FromSeconds(60)), $"seed {seed}: {Describe(pair)}");
            dropped += pair.Network.DatagramsDropped;
            probes += pair.Client.Stats.ProbeTimeouts + pair.ServerConnection!.Stats.ProbeTimeouts;
        }

        Assert.True(dropped > 10, $"The link was meant to lose datagrams (lost {dropped}).");
        Assert.True(probes > 0, "Losses during the handshake must have been repaired by probe timeouts.");
    }

    [Fact]
    public void ServerSendsAtMostThreeTimesWhatItReceivedBeforeAddressValidation()
    {
        // RFC 9000 §8.1: only the client's first datagram reaches the server; the server may answer with at most
        // 3x its size however often its PTO fires.
        using var pair = HandshakePair.Create();
        int delivered = 0;
        pair.Network.Filter = datagram =>
            datagram.To.Equals(HandshakePair.ServerAddress) ? (delivered++ == 0 ? [datagram] : []) : [datagram];

        pair.Network.RunFor(TimeSpan.FromSeconds(5));
        Assert.True(pair.Server.TryAccept(out QuicConnection server));
        long sentAfterFiveSeconds = server.Stats.BytesSent;
        pair.Network.RunFor(TimeSpan.FromSeconds(10));

        Assert.Equal(1, server.Stats.DatagramsReceived);
        Assert.True(server.Stats.ProbeTimeouts >= 1, "The server should have probed (RFC 9002 §6.2) with its remaining budget.");
        Assert.True(server.Stats.BytesSent > server.Stats.BytesReceived, "The server should have retransmitted its flight.");
        Assert.True(server.Stats.BytesSent <= 3 * server.Stats.BytesReceived, $"sent {server.Stats.BytesSent}, received {server.Stats.BytesReceived}");

        // RFC 9002 §6.2.2.1: once blocked, no PTO is armed, so nothing more goes out however long we wait.
        Assert.Equal(sentAfterFiveSeconds, server.Stats.BytesSent);
    }

    [Fact]
    public void ApplicationCloseReachesThePeerAndBothSidesEndClosed()
    {
        using var pair = HandshakePair.Create();
        Assert.True(pair.RunHandshake());
        pair.Client.Close(pair.Network.Now, 0x100, "bye");
        Assert.True(pair.RunUntilClosed(TimeSpan.FromSeconds(10)), Describe(pair));
        QuicConnectionError serverView = pair.ServerConnection!.CloseError!;
        Assert.True(serverView.IsApplicationError);
        Assert.Equal(0x100UL, serverView.ErrorCode);
        Assert.Equal("bye", serverView.Reason);
        Assert.False(serverView.IsLocal);
    }

    private static string Describe(HandshakePair pair)
    {
        QuicConnection? s = pair.ServerConnection;
        return $"client state={pair.Client.State} error={pair.Client.CloseError} sent={pair.Client.Stats.PacketsSent} recv={pair.Client.Stats.PacketsReceived} dropped={pair.Client.Stats.PacketsDropped}; " +
            $"server state={s?.State} error={s?.CloseError} sent={s?.Stats.PacketsSent} recv={s?.Stats.PacketsReceived} dropped={s?.Stats.PacketsDropped}; " +
            $"link delivered={pair.Network.DatagramsDelivered} dropped={pair.Network.DatagramsDropped} t={pair.Network.Now}";
    }
}
