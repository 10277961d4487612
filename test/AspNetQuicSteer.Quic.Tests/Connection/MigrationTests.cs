using System.Net;
using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Tests.Harness;

namespace AspNetQuicSteer.Quic.Tests.Connection;

/// <summary>Path validation (RFC 9000 §8.2) and connection migration (RFC 9000 §9) between live connections.</summary>
public sealed class MigrationTests
{
    [Fact]
    public void ServerFollowsANatRebindingAndValidatesTheNewPath()
    {
        using var pair = HandshakePair.Create();
        Assert.True(pair.RunHandshake());
        QuicConnection server = pair.ServerConnection!;
        TimeSpan rttBefore = server.Rtt.SmoothedRtt;

        // The client's port changes under it (a NAT rebinding): the connection does not know.
        var rebound = new IPEndPoint(HandshakePair.ClientAddress.Address, 50001);
        pair.Network.Rebind(HandshakePair.ClientAddress, rebound);
        pair.Client.Ping();
        pair.Network.RunFor(TimeSpan.FromSeconds(1));

        // RFC 9000 §9.3: the server moved to the new address and validated it (§8.2) with PATH_CHALLENGE.
        Assert.Equal(rebound, server.RemoteAddress);
        Assert.True(server.IsPathValidated);
        Assert.Equal(1, server.Migrations);

        // RFC 9000 §9.4: only the port changed, so the RTT estimate is kept.
        Assert.True(server.Rtt.HasSample);
        Assert.Equal(rttBefore, server.Rtt.SmoothedRtt);
        AssertStillConnected(pair);
    }

    [Fact]
    public void ClientMigratesToANewAddressWithAFreshConnectionId()
    {
        using var pair = HandshakePair.Create();
        Assert.True(pair.RunHandshake());
        pair.Client.Ping();
        pair.Network.RunFor(TimeSpan.FromMilliseconds(300));
        QuicConnection server = pair.ServerConnection!;
        var idBefore = pair.Client.RemoteConnectionId;

        var newAddress = SimulatedNetwork.Address(9, 40000);
        pair.Network.Rebind(HandshakePair.ClientAddress, newAddress);
        pair.Client.OnLocalAddressChanged(pair.Network.Now);
        pair.Client.Ping();
        pair.Network.RunFor(TimeSpan.FromSeconds(1));

        // RFC 9000 §9.5: a new path uses a new connection ID; §9.3: the server follows and validates it.
        Assert.NotEqual(idBefore, pair.Client.RemoteConnectionId);
        Assert.Equal(newAddress, server.RemoteAddress);
        Assert.True(server.IsPathValidated);
        Assert.True(pair.Client.IsPathValidated);
        AssertStillConnected(pair);
    }

    [Fact]
    public void AForgedSourceAddressCannotStealTheConnectionOrAmplify()
    {
        // An on-path attacker rewrites the source of one client datagram (RFC 9000 §9.3.2, §21.5). The server
        // may follow it, but the new path cannot be validated; the server must not send more than 3x what it
        // received from that address, and the connection must end up back on the real client.
        using var pair = HandshakePair.Create();
        Assert.True(pair.RunHandshake());
        QuicConnection server = pair.ServerConnection!;
        var attacker = SimulatedNetwork.Address(66, 6666);
        long receivedFromAttacker = 0, sentToAttacker = 0;
        bool rewrote = false;
        pair.Network.Filter = d =>
        {
            if (d.To.Equals(attacker))
            {
                sentToAttacker += d.Data.Length;
                return [];
            }

            if (!rewrote && d.From.Equals(HandshakePair.ClientAddress))
            {
                rewrote = true;
                receivedFromAttacker += d.Data.Length;
                return [d with { From = attacker }];
            }

            return [d];
        };

        pair.Client.Ping();
        pair.Network.RunFor(TimeSpan.FromMilliseconds(200));
        for (int i = 0; i < 5; i++)
        {
            pair.Client.Ping();
            pair.Network.RunFor(TimeSpan.FromSeconds(1));
        }

        Assert.True(rewrote);
        Assert.True(server.Migrations >= 2, $"The server should have followed the forged address and come back (migrations: {server.Migrations}).");
        Assert.True(sentToAttacker > 0, "The server should have challenged the forged address.");
        Assert.True(sentToAttacker <= 3 * receivedFromAttacker, $"sent {sentToAttacker} to the forged address, received {receivedFromAttacker}");
        Assert.Equal(HandshakePair.ClientAddress, server.RemoteAddress);
        Assert.True(server.IsPathValidated);
        AssertStillConnected(pair);
    }

    private static void AssertStillConnected(HandshakePair pair)
    {
        long before = pair.ServerConnection!.Stats.PacketsReceived;
        pair.Client.Ping();
        pair.Network.RunFor(TimeSpan.FromMilliseconds(500));
        Assert.Equal(QuicConnectionState.Connected, pair.Client.State);
        Assert.Equal(QuicConnectionState.Connected, pair.ServerConnection.State);
        Assert.True(pair.ServerConnection.Stats.PacketsReceived > before, "The server must keep receiving the client's packets.");
    }
}
