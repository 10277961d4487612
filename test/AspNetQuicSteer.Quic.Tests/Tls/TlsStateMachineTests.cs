using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Tls;
using AspNetQuicSteer.Quic.Tls.Messages;

namespace AspNetQuicSteer.Quic.Tests.Tls;

/// <summary>Session lifecycle details: deferred configuration, secret ownership, client-side HelloRetryRequest rules.</summary>
public sealed class TlsStateMachineTests
{
    [Fact]
    public void ConfigurationSuppliedBeforeClientHello_HandshakeRunsNormally()
    {
        using TlsClientHandshake client = new(TlsTestPump.ClientOptions());
        using TlsServerHandshake server = new();
        server.SetServerConfiguration(TlsTestPump.ServerOptions());
        Assert.Throws<InvalidOperationException>(() => server.SetServerConfiguration(TlsTestPump.ServerOptions()));
        new TlsTestPump().Run(client, server);
        Assert.True(server.IsHandshakeComplete);
        Assert.False(server.IsAwaitingConfiguration);
    }

    [Fact]
    public void DeferredConfigurationWithAlpnMismatch_FailsWhenConfigured()
    {
        // RFC 9001 §8.1: the ALPN check happens once the configuration is known.
        using TlsClientHandshake client = new(TlsTestPump.ClientOptions());
        using TlsServerHandshake server = new();
        new TlsTestPump().Run(client, server);
        Assert.True(server.IsAwaitingConfiguration);
        TlsAlertException e = Assert.Throws<TlsAlertException>(() => server.SetServerConfiguration(TlsTestPump.ServerOptions(alpn: "hq-interop")));
        Assert.Equal(TlsAlert.NoApplicationProtocol, e.Alert);
        Assert.False(server.IsAwaitingConfiguration);
    }

    [Fact]
    public void SecretsHandedOutSurviveSessionDispose()
    {
        TlsTestPump pump = new();
        using (TlsClientHandshake client = new(TlsTestPump.ClientOptions()))
        using (TlsServerHandshake server = new(TlsTestPump.ServerOptions()))
        {
            pump.Run(client, server);
        }

        // QUIC needs the 1-RTT secrets for key updates (RFC 9001 §6) after TLS is gone.
        Assert.All(pump.ServerSecrets.Concat(pump.ClientSecrets), s => Assert.Contains(s.Secret, b => b != 0));
    }

    private static byte[] HelloRetryRequest(ushort group, ushort suite = 0x1301)
        => new ServerHelloMessage
        {
            Random = TlsConstants.HelloRetryRequestRandom.ToArray(),
            CipherSuite = suite,
            SelectedVersion = TlsConstants.Tls13,
            SelectedGroup = group,
        }.Encode();

    [Fact]
    public void ClientAnswersHelloRetryRequestOnceThenRejectsASecond()
    {
        using TlsClientHandshake client = new(TlsTestPump.ClientOptions());
        client.Start();
        Assert.True(client.TryGetHandshakeData(out _, out ReadOnlyMemory<byte> first));
        client.ReadHandshake(EncryptionLevel.Initial, HelloRetryRequest((ushort)TlsNamedGroup.Secp256r1));
        Assert.True(client.TryGetHandshakeData(out EncryptionLevel level, out ReadOnlyMemory<byte> second));
        Assert.Equal(EncryptionLevel.Initial, level);

        // RFC 8446 §4.1.2: same ClientHello except the key share.
        ClientHelloMessage a = ClientHelloMessage.Decode(first.Span[4..]);
        ClientHelloMessage b = ClientHelloMessage.Decode(second.Span[4..]);
        Assert.Equal(a.Random, b.Random);
        Assert.Equal((ushort)TlsNamedGroup.Secp256r1, b.KeyShares!.Single().Group);
        Assert.Equal(65, b.KeyShares![0].KeyExchange.Length);

        // RFC 8446 §4.1.4: a second HelloRetryRequest is unexpected_message.
        TlsAlertException e = Assert.Throws<TlsAlertException>(() => client.ReadHandshake(EncryptionLevel.Initial, HelloRetryRequest((ushort)TlsNamedGroup.Secp384r1)));
        Assert.Equal(TlsAlert.UnexpectedMessage, e.Alert);
    }

    [Theory]
    [InlineData(0x001D)] // the client already sent an X25519 share
    [InlineData(0x0018)] // secp384r1 is not in the client's supported_groups
    public void ClientRejectsHelloRetryRequestForUnacceptableGroup(int group)
    {
        // RFC 8446 §4.1.4: such a HelloRetryRequest is illegal_parameter.
        using TlsClientHandshake client = new(TlsTestPump.ClientOptions());
        client.Start();
        TlsAlertException e = Assert.Throws<TlsAlertException>(() => client.ReadHandshake(EncryptionLevel.Initial, HelloRetryRequest((ushort)group)));
        Assert.Equal(TlsAlert.IllegalParameter, e.Alert);
    }

    [Fact]
    public void ClientRejectsServerHelloWithUnofferedSuiteAfterRetry()
    {
        // RFC 8446 §4.1.3: a cipher suite that was not offered is illegal_parameter.
        using TlsClientHandshake client = new(TlsTestPump.ClientOptions(suites: [TlsCipherSuite.Aes128GcmSha256]));
        client.Start();
        TlsAlertException e = Assert.Throws<TlsAlertException>(() => client.ReadHandshake(EncryptionLevel.Initial, HelloRetryRequest((ushort)TlsNamedGroup.Secp256r1, 0x1302)));
        Assert.Equal(TlsAlert.IllegalParameter, e.Alert);
    }

    [Fact]
    public void ClientAcceptsNewSessionTicketAfterHandshake()
    {
        // RFC 8446 §4.6.1: tickets arrive at 1-RTT after the handshake (resumption seam: counted, not stored).
        using TlsClientHandshake client = new(TlsTestPump.ClientOptions());
        using TlsServerHandshake server = new(TlsTestPump.ServerOptions());
        new TlsTestPump().Run(client, server);
        client.ReadHandshake(EncryptionLevel.OneRtt, Rfc8448Vectors.NewSessionTicket);
        Assert.Equal(1, client.ReceivedTicketCount);
    }
}
