using System.Net;
using System.Security.Cryptography;
using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Endpoint;
using AspNetQuicSteer.Quic.Tls;
using AspNetQuicSteer.Quic.Wire;
using AspNetQuicSteer.Steering.ConnectionIds;

namespace AspNetQuicSteer.Steering.Tests.ConnectionIds;

/// <summary>
/// ARCHITECTURE.md invariant 1 on a real endpoint: a short-header packet whose CID names another live generation is
/// never answered with a stateless reset (RFC 9000 §10.3); one naming our own (forgotten) connection or a generation
/// that no longer lives is.
/// </summary>
public sealed class StatelessResetGuardTests
{
    private static readonly GenerationId Old = new(1), New = new(2), Gone = new(3);

    [Theory]
    [InlineData("plaintext")]
    [InlineData("four-pass")]
    public void Another_live_generations_CID_is_never_reset_ours_and_dead_ones_are(string mode)
    {
        var live = new HashSet<GenerationId> { Old, New };
        using SteeringConnectionIdGenerator ours = Generator(mode, New);
        ours.IsOtherLiveGeneration = g => g != ours.Generation && live.Contains(g);
        using SteeringConnectionIdGenerator old = Generator(mode, Old);
        using SteeringConnectionIdGenerator gone = Generator(mode, Gone);
        var endpoint = new QuicEndpoint(new QuicEndpointOptions
        {
            ServerTls = static _ => new TlsServerHandshake(),
            Connection = new QuicConnectionOptions { ConnectionIdGenerator = ours },
        });
        var client = new IPEndPoint(IPAddress.Loopback, 50000);

        endpoint.HandleDatagram(TimeSpan.FromSeconds(1), client, ShortHeader(old.Generate()));
        Assert.Equal(0, endpoint.Stats.StatelessResetsSent); // the old generation owns it: no reset, ever

        endpoint.HandleDatagram(TimeSpan.FromSeconds(2), client, ShortHeader(ours.Generate()));
        Assert.Equal(1, endpoint.Stats.StatelessResetsSent); // ours, unknown connection: reset

        endpoint.HandleDatagram(TimeSpan.FromSeconds(3), client, ShortHeader(gone.Generate()));
        Assert.Equal(2, endpoint.Stats.StatelessResetsSent); // its generation is gone: reset

        live.Remove(Old); // the old generation exited: its CIDs may be reset now
        endpoint.HandleDatagram(TimeSpan.FromSeconds(4), client, ShortHeader(old.Generate()));
        Assert.Equal(3, endpoint.Stats.StatelessResetsSent);
    }

    private static SteeringConnectionIdGenerator Generator(string mode, GenerationId generation)
    {
        QuicLbConfiguration config = mode == "plaintext"
            ? new QuicLbConfiguration(1, 4, 8, selfEncodeLength: true)
            : new QuicLbConfiguration(3, 4, 7, Convert.FromHexString("8f95f09245765f80256934e50c66207f"), selfEncodeLength: true);
        return new SteeringConnectionIdGenerator(new SteeringConnectionIdOptions
        {
            QuicLb = config,
            ServerId = new byte[] { 0xA0, 0xA1, 0xA2, 0xA3 },
            Generation = generation,
        });
    }

    /// <summary>RFC 9000 §17.3.1: form bit 0, fixed bit 1, the DCID, then protected bytes (long enough to trigger a reset, §10.3).</summary>
    private static byte[] ShortHeader(ConnectionId dcid)
    {
        byte[] packet = new byte[1 + dcid.Length + 60];
        RandomNumberGenerator.Fill(packet);
        packet[0] = (byte)(0x40 | (packet[0] & 0x1F));
        dcid.Span.CopyTo(packet.AsSpan(1));
        return packet;
    }
}
