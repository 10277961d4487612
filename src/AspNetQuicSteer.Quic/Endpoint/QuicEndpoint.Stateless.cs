using System.Net;
using System.Security.Cryptography;
using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Endpoint.Stateless;
using AspNetQuicSteer.Quic.Frames;
using AspNetQuicSteer.Quic.Packets;
using AspNetQuicSteer.Quic.TransportParameters;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Endpoint;

/// <summary>Packets the endpoint sends without a connection: Version Negotiation, Retry, refusals, stateless resets.</summary>
internal sealed partial class QuicEndpoint
{
    private void QueueVersionNegotiation(EndPoint remote, ReadOnlySpan<byte> datagram, in PacketHeader header)
    {
        ReadOnlySpan<byte> dcid = header.GetDestinationConnectionId(datagram);
        ReadOnlySpan<byte> scid = header.GetSourceConnectionId(datagram);
        byte[] packet = new byte[VersionNegotiationPacket.GetLength(dcid.Length, scid.Length, 1)];
        var writer = new QuicWriter(packet);

        // RFC 9000 §17.2.1: the writer echoes the client's SCID as DCID and its DCID as SCID; we list version 1.
        VersionNegotiationPacket.Write(ref writer, (byte)RandomNumberGenerator.GetInt32(256), dcid, scid, [QuicConnection.Version1]);
        _statelessTransmits.Enqueue((packet, remote));
        Stats.VersionNegotiationsSent++;
    }

    /// <summary>RFC 9000 §8.1.2: a Retry with an address-validation token; the client repeats its Initial with it.</summary>
    private void QueueRetry(EndPoint remote, in PeerAddress peer, ReadOnlySpan<byte> datagram, in PacketHeader header, DateTimeOffset wallClock)
    {
        byte[] packet = new byte[RetryPackets.MaxLength];
        if (!RetryPackets.TryWrite(_tokens, _options.Connection.ConnectionIdGenerator, peer, datagram, header, wallClock, packet, out int length, out _))
        {
            Stats.DatagramsDropped++;
            return;
        }

        _statelessTransmits.Enqueue((packet[..length], remote));
        Stats.RetriesSent++;
    }

    /// <summary>
    /// RFC 9000 §5.2.2: a server refusing a connection sends CONNECTION_CLOSE in an Initial packet, protected with the
    /// Initial keys of the client's DCID, so the client learns why without a connection ever existing.
    /// </summary>
    private void QueueRefusal(EndPoint remote, ReadOnlySpan<byte> datagram, in PacketHeader header, TransportErrorCode errorCode)
    {
        (PacketProtectionKeys client, PacketProtectionKeys server) = InitialSecrets.CreateKeys(header.GetDestinationConnectionId(datagram));
        using (client)
        using (server)
        {
            byte[] packet = new byte[256];
            byte[] scid = RandomNumberGenerator.GetBytes(8);
            var writer = new QuicWriter(packet.AsSpan(0, packet.Length - PacketProtectionKeys.TagLength));
            LongHeaderLayout layout = LongHeaderWriter.Write(ref writer, QuicPacketType.Initial, QuicConnection.Version1,
                header.GetSourceConnectionId(datagram), scid, default, packetNumber: 0, packetNumberLength: 1);
            int payloadStart = writer.Position;
            new ConnectionCloseFrame(false, (ulong)errorCode, (ulong)FrameType.Crypto, default).Write(ref writer);
            int minPayload = PacketProtectionKeys.MinPayloadLength(1);
            if (writer.Position - payloadStart < minPayload) writer.Reserve(minPayload - (writer.Position - payloadStart)).Clear();
            int payloadLength = writer.Position - payloadStart;
            LongHeaderWriter.PatchLength(packet, layout, writer.Position + PacketProtectionKeys.TagLength);
            int total = server.Seal(packet, layout.PacketNumberOffset, 1, payloadLength, 0);
            _statelessTransmits.Enqueue((packet[..total], remote));
            Stats.RefusalsSent++;
        }
    }

    /// <summary>
    /// RFC 9000 §10.3: a stateless reset for a packet whose connection we do not have, shorter than the trigger (so
    /// two endpoints cannot loop) and rate-limited (§10.3.3). The token is keyed by the DCID, so it is the one the
    /// lost connection announced for that ID, whichever generation issued it.
    /// </summary>
    private void QueueStatelessReset(TimeSpan now, EndPoint remote, int triggerLength, ReadOnlySpan<byte> dcid)
    {
        // A client-only endpoint has no peers that could hold state for it; it only recognizes resets. That also
        // keeps two endpoints from answering each other's resets (bounded anyway by §10.3.3's shrinking sizes).
        if (_options.ServerTls is null || dcid.Length == 0)
        {
            Stats.DatagramsDropped++;
            return;
        }

        if (!_resetLimiter.TryAcquire(now))
        {
            Stats.StatelessResetsRateLimited++;
            return;
        }

        StatelessResetToken token = _resetTokens.Compute(dcid);
        byte[] packet = new byte[StatelessReset.DefaultMaxLength];
        if (!StatelessReset.TryWrite(triggerLength, token, packet, out int length))
        {
            Stats.DatagramsDropped++;
            return;
        }

        _statelessTransmits.Enqueue((packet[..length], remote));
        Stats.StatelessResetsSent++;
    }

    /// <summary>RFC 9000 §10.3.1: the last 16 bytes of an unroutable datagram matched against the peers' reset tokens.</summary>
    private bool TryHandleStatelessReset(TimeSpan now, ReadOnlySpan<byte> datagram)
    {
        if (datagram.Length < StatelessReset.MinimumLength || _byPeerResetToken.Count == 0) return false;
        var candidate = new StatelessResetToken(datagram[^StatelessResetToken.Length..]);
        if (!_byPeerResetToken.TryGetValue(candidate, out EndpointConnection? entry)) return false;

        Stats.StatelessResetsReceived++;
        entry.Connection.OnStatelessReset(now);
        return true;
    }
}
