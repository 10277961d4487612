using System.Security.Cryptography;
using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Endpoint;
using AspNetQuicSteer.Quic.Endpoint.Stateless;
using AspNetQuicSteer.Quic.Tests.Harness;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Tests.Connection;

/// <summary>Retry, refusal and stateless reset between live endpoints (RFC 9000 §8.1.2, §5.2.2, §10.3).</summary>
public sealed class StatelessEndpointTests
{
    [Fact]
    public void RetryRoundTripValidatesTheAddressAndAuthenticatesTheIds()
    {
        // RFC 9000 §8.1.2: the server answers the first Initial with Retry; the client repeats it with the token.
        using var pair = HandshakePair.Create(new HandshakeSetup { ServerAdmission = InitialAdmissionPolicies.RetryWhenNoValidToken });

        Assert.True(pair.RunHandshake(), $"client {pair.Client.State} {pair.Client.CloseError}");
        Assert.Equal(1, pair.Server.Stats.RetriesSent);
        Assert.True(pair.Client.ReceivedRetry);

        // RFC 9000 §7.3: the server authenticated the Retry's SCID and the client's original DCID.
        var peerParameters = pair.Client.PeerTransportParameters!;
        Assert.NotNull(peerParameters.RetrySourceConnectionId);
        Assert.Equal(pair.Client.OriginalDestinationConnectionId, peerParameters.OriginalDestinationConnectionId);

        // RFC 9000 §8.1: the token validated the address, so the server was never amplification-limited.
        Assert.Equal(0, pair.ServerConnection!.Stats.AmplificationLimited);
    }

    [Fact]
    public void NewTokenFromOneConnectionLetsTheNextSkipRetry()
    {
        // RFC 9000 §8.1.3: the server sends NEW_TOKEN after the handshake; the client presents it next time, which
        // validates its address without a Retry round trip.
        using var pair = HandshakePair.Create(new HandshakeSetup { ServerAdmission = InitialAdmissionPolicies.RetryWhenNoValidToken });
        Assert.True(pair.RunHandshake());
        pair.Network.RunFor(TimeSpan.FromMilliseconds(300));
        Assert.Equal(1, pair.Server.Stats.RetriesSent);
        Assert.NotNull(pair.Client.ReceivedNewToken);

        QuicConnection second = pair.ClientEndpoint.Connect(pair.Network.Now, HandshakePair.ServerAddress, tp => new AspNetQuicSteer.Quic.Tls.TlsClientHandshake(new AspNetQuicSteer.Quic.Tls.TlsClientOptions
        {
            ServerName = "localhost",
            ApplicationProtocols = [System.Net.Security.SslApplicationProtocol.Http3],
            TransportParameters = tp,
            TrustedRootCertificates = [HandshakePair.ServerCertificate],
        }));
        Assert.True(pair.Network.RunUntil(() => second.IsHandshakeConfirmed, TimeSpan.FromSeconds(5)));
        Assert.Equal(1, pair.Server.Stats.RetriesSent);
        Assert.False(second.ReceivedRetry);
    }

    [Fact]
    public void RefusedConnectionEndsWithConnectionRefusedOnTheClient()
    {
        // RFC 9000 §5.2.2: a refusing server sends CONNECTION_CLOSE (CONNECTION_REFUSED) in an Initial packet.
        using var pair = HandshakePair.Create(new HandshakeSetup { ServerAdmission = new RefuseEverything() });
        Assert.False(pair.RunHandshake(TimeSpan.FromSeconds(5)));
        Assert.Equal(1, pair.Server.Stats.RefusalsSent);
        Assert.Equal(0, pair.Server.ConnectionCount);
        Assert.Equal((ulong)TransportErrorCode.ConnectionRefused, pair.Client.CloseError!.ErrorCode);
        Assert.False(pair.Client.CloseError.IsLocal);
    }

    [Fact]
    public void AServerThatLostTheConnectionResetsItStatelesslyWithTheSharedKeys()
    {
        // RFC 9000 §10.3: the server process restarts (state lost) with the same keys; the client's next packet
        // gets a stateless reset whose token matches one the old process announced, and the client stops at once
        // instead of waiting for its idle timeout.
        byte[] secret = RandomNumberGenerator.GetBytes(32);
        var setup = new HandshakeSetup { ServerKeys = new StatelessKeyRing(secret) };
        using var pair = HandshakePair.Create(setup);
        Assert.True(pair.RunHandshake());
        pair.Client.Ping();
        pair.Network.RunFor(TimeSpan.FromMilliseconds(300));

        QuicEndpoint restarted = HandshakePair.CreateServerEndpoint(setup with { ServerKeys = new StatelessKeyRing(secret) });
        using QuicEndpoint old = pair.Network.Replace(HandshakePair.ServerAddress, restarted);
        pair.Client.Ping();
        pair.Network.RunFor(TimeSpan.FromSeconds(1));

        Assert.Equal(1, restarted.Stats.StatelessResetsSent);
        Assert.Equal(1, pair.Client.Stats.StatelessResetsReceived);
        Assert.True(pair.Client.State is QuicConnectionState.Draining or QuicConnectionState.Closed);
        Assert.Equal("Stateless reset.", pair.Client.CloseError!.Reason);
    }

    /// <summary>
    /// RFC 9000 §10.1.2 and §10.3: a client awaiting a response on a request stream, with all it sent acknowledged, has
    /// nothing to send; when the server process dies, only a probe of its own reveals that. With a liveness probe
    /// interval the client PINGs after a second of silence and the restarted server's stateless reset ends the
    /// connection at once; without it the client waits in silence (here: still connected after 5 s).
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_client_awaiting_a_response_probes_a_silent_server_and_learns_of_its_restart(bool probe)
    {
        byte[] secret = RandomNumberGenerator.GetBytes(32);
        var setup = new HandshakeSetup
        {
            ServerKeys = new StatelessKeyRing(secret),
            ClientConnection = () => new QuicConnectionOptions { LivenessProbeInterval = probe ? TimeSpan.FromSeconds(1) : TimeSpan.Zero },
        };
        using var pair = HandshakePair.Create(setup);
        Assert.True(pair.RunHandshake());
        Assert.True(pair.Client.TryOpenStream(bidirectional: true, out ulong request));
        Assert.Equal(3, pair.Client.WriteStream(request, "GET"u8, fin: true));
        pair.Network.RunFor(TimeSpan.FromMilliseconds(300)); // the request is delivered and acknowledged

        QuicEndpoint restarted = HandshakePair.CreateServerEndpoint(setup with { ServerKeys = new StatelessKeyRing(secret) });
        using QuicEndpoint old = pair.Network.Replace(HandshakePair.ServerAddress, restarted);
        TimeSpan crashed = pair.Network.Now;
        bool reset = pair.Network.RunUntil(() => pair.Client.State != QuicConnectionState.Connected, TimeSpan.FromSeconds(5));

        if (probe)
        {
            Assert.True(reset, "the probing client never learned that the server lost the connection");
            Assert.InRange(pair.Network.Now - crashed, TimeSpan.FromSeconds(0.7), TimeSpan.FromSeconds(1.6));
            Assert.Equal("Stateless reset.", pair.Client.CloseError!.Reason);
        }
        else
        {
            Assert.False(reset);
            Assert.Equal(0, restarted.Stats.StatelessResetsSent);
        }
    }

    /// <summary>A probe only while a request awaits its response: an idle client connection stays silent (RFC 9000 §10.1.2).</summary>
    [Fact]
    public void An_idle_client_connection_sends_no_liveness_probe()
    {
        using var pair = HandshakePair.Create(new HandshakeSetup
        {
            ClientConnection = () => new QuicConnectionOptions { LivenessProbeInterval = TimeSpan.FromSeconds(1), IdleTimeout = TimeSpan.FromSeconds(60) },
        });
        Assert.True(pair.RunHandshake());
        pair.Network.RunFor(TimeSpan.FromMilliseconds(500));
        long sent = pair.Client.Stats.DatagramsSent;
        pair.Network.RunFor(TimeSpan.FromSeconds(5));
        Assert.Equal(sent, pair.Client.Stats.DatagramsSent);
    }

    [Fact]
    public void ResetFromAServerWithOtherKeysIsIgnored()
    {
        // The token is keyed: a process with different keys cannot reset our connection (it stays up and times out
        // or recovers instead), which is what keeps one app from resetting another's connections.
        using var pair = HandshakePair.Create(new HandshakeSetup { ServerKeys = new StatelessKeyRing(RandomNumberGenerator.GetBytes(32)) });
        Assert.True(pair.RunHandshake());
        QuicEndpoint stranger = HandshakePair.CreateServerEndpoint(new HandshakeSetup { ServerKeys = new StatelessKeyRing(RandomNumberGenerator.GetBytes(32)) });
        using QuicEndpoint original = pair.Network.Replace(HandshakePair.ServerAddress, stranger);
        pair.Client.Ping();
        pair.Network.RunFor(TimeSpan.FromSeconds(1));

        Assert.True(stranger.Stats.StatelessResetsSent >= 1);
        Assert.Equal(0, pair.ClientEndpoint.Stats.StatelessResetsSent);
        Assert.Equal(0, pair.Client.Stats.StatelessResetsReceived);
        Assert.Equal(QuicConnectionState.Connected, pair.Client.State);
    }

    [Fact]
    public void ShortHeadersWhoseIdTheGeneratorRejectsGetNoReset()
    {
        // The generator's validation (the Steering seam) filters short headers before any stateless reset is built.
        var generator = new PrefixConnectionIdGenerator(0xA5);
        var endpoint = new QuicEndpoint(new QuicEndpointOptions
        {
            ServerTls = _ => throw new InvalidOperationException("no handshake expected"),
            Connection = new QuicConnectionOptions { ConnectionIdGenerator = generator },
        });
        using (endpoint)
        {
            byte[] ours = new byte[60], foreign = new byte[60];
            ours[0] = foreign[0] = 0x40;
            ours[1] = 0xA5;
            foreign[1] = 0x17;
            endpoint.HandleDatagram(TimeSpan.FromSeconds(1), HandshakePair.ClientAddress, ours);
            endpoint.HandleDatagram(TimeSpan.FromSeconds(1), HandshakePair.ClientAddress, foreign);
            Assert.Equal(1, endpoint.Stats.StatelessResetsSent);
            Assert.Equal(1, endpoint.Stats.DatagramsDropped);
        }
    }

    private sealed class PrefixConnectionIdGenerator(byte prefix) : IConnectionIdGenerator
    {
        public int ConnectionIdLength => 8;

        public ConnectionId Generate()
        {
            byte[] id = RandomNumberGenerator.GetBytes(8);
            id[0] = prefix;
            return new ConnectionId(id);
        }

        public bool Validate(ReadOnlySpan<byte> connectionId) => connectionId.Length == 8 && connectionId[0] == prefix;
    }

    private sealed class RefuseEverything : IInitialAdmissionPolicy
    {
        public InitialAdmissionDecision Decide(in InitialAdmissionContext context) => InitialAdmissionDecision.Refuse();
    }
}
