using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Tests.Harness;

namespace AspNetQuicSteer.Quic.Tests.Connection;

/// <summary>1-RTT key update (RFC 9001 §6) and connection ID management (RFC 9000 §5.1) between live connections.</summary>
public sealed class KeyUpdateAndConnectionIdTests
{
    [Fact]
    public void KeyUpdateInitiatedByTheClientIsFollowedByTheServer()
    {
        using var pair = HandshakePair.Create();
        Assert.True(pair.RunHandshake());
        QuicConnection client = pair.Client, server = pair.ServerConnection!;
        ExchangePings(pair);

        // RFC 9001 §6.1: the initiator flips its phase; §6.2: the peer follows when it sees the new phase.
        Assert.True(client.InitiateKeyUpdate());
        Assert.Equal(1, client.KeyPhase);
        Assert.False(client.InitiateKeyUpdate(), "RFC 9001 §6.1: no second update before the current phase is acknowledged.");

        ExchangePings(pair);
        Assert.Equal(1, server.KeyPhase);
        Assert.Equal(1, server.KeyUpdates);
        long droppedBefore = server.Stats.PacketsDropped;

        // And back again, initiated by the server this time, once one of its new-phase packets was acknowledged
        // (RFC 9001 §6.1; so far it sent only ACKs in the new phase, which are never acknowledged).
        Assert.False(server.InitiateKeyUpdate());
        ExchangePings(pair);
        Assert.True(server.InitiateKeyUpdate());
        ExchangePings(pair);
        Assert.Equal(0, client.KeyPhase);
        Assert.Equal(2, client.KeyUpdates);
        Assert.Equal(2, server.KeyUpdates);
        Assert.Equal(droppedBefore, server.Stats.PacketsDropped);
        Assert.Equal(QuicConnectionState.Connected, client.State);
        Assert.Equal(QuicConnectionState.Connected, server.State);
    }

    [Fact]
    public void KeyUpdateSurvivesReorderingAcrossThePhaseChange()
    {
        // RFC 9001 §6.5: packets of the old phase that arrive after the update still decrypt with the old keys.
        using var pair = HandshakePair.Create(new HandshakeSetup { Link = new LinkOptions { Jitter = TimeSpan.FromMilliseconds(30) }, Seed = 3 });
        Assert.True(pair.RunHandshake());
        ExchangePings(pair);
        for (int round = 0; round < 6; round++)
        {
            pair.Client.Ping();
            pair.Client.Ping();
            if (round % 2 == 0) Assert.True(pair.Client.InitiateKeyUpdate() || round > 0);
            ExchangePings(pair);
        }

        Assert.True(pair.Client.KeyUpdates >= 1);
        Assert.Equal(pair.Client.KeyPhase, pair.ServerConnection!.KeyPhase);
        Assert.Equal(QuicConnectionState.Connected, pair.ServerConnection.State);
    }

    [Fact]
    public void BothSidesIssueSpareConnectionIdsUpToTheLimit()
    {
        // RFC 9000 §5.1.1: each side offers up to the peer's active_connection_id_limit (ours: 4).
        using var pair = HandshakePair.Create();
        Assert.True(pair.RunHandshake());
        ExchangePings(pair);
        Assert.Equal(4, pair.Client.ActiveLocalConnectionIds);
        Assert.Equal(4, pair.ServerConnection!.ActiveLocalConnectionIds);
        Assert.Equal(4, pair.Client.ActiveRemoteConnectionIds);
        Assert.Equal(4, pair.ServerConnection.ActiveRemoteConnectionIds);
    }

    [Fact]
    public void SwitchingToANewPeerIdRetiresTheOldOneAndTheServerReplacesIt()
    {
        using var pair = HandshakePair.Create();
        Assert.True(pair.RunHandshake());
        ExchangePings(pair);
        QuicConnection client = pair.Client, server = pair.ServerConnection!;
        var oldId = client.RemoteConnectionId;

        // RFC 9000 §5.1.2 / §19.16: the client moves to a new ID and retires the old one; the server stops
        // routing it and issues a replacement.
        Assert.True(client.SwitchRemoteConnectionId());
        Assert.NotEqual(oldId, client.RemoteConnectionId);
        ExchangePings(pair);

        Assert.Equal(4, server.ActiveLocalConnectionIds);
        Assert.Equal(4, client.ActiveRemoteConnectionIds);
        Assert.Equal(QuicConnectionState.Connected, server.State);
        long resets = pair.Server.Stats.StatelessResetsSent;
        long serverPackets = server.Stats.DatagramsReceived;

        // A packet to the retired ID no longer reaches the connection: the endpoint cannot route it and answers with
        // a stateless reset (RFC 9000 §10.3), which the client ignores because it retired that ID's token.
        byte[] stale = new byte[60];
        stale[0] = 0x40;
        oldId.Span.CopyTo(stale.AsSpan(1));
        pair.Server.HandleDatagram(pair.Network.Now, HandshakePair.ClientAddress, stale);
        Assert.Equal(resets + 1, pair.Server.Stats.StatelessResetsSent);
        Assert.Equal(serverPackets, server.Stats.DatagramsReceived);
        pair.Network.RunFor(TimeSpan.FromMilliseconds(200));
        Assert.Equal(QuicConnectionState.Connected, client.State);
    }

    private static void ExchangePings(HandshakePair pair)
    {
        pair.Client.Ping();
        pair.ServerConnection!.Ping();
        pair.Network.RunFor(TimeSpan.FromMilliseconds(500));
    }
}
