using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Packets;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Connection;

/// <summary>Client handling of Retry (RFC 9000 §17.2.5.2, §8.1.2) and Version Negotiation (RFC 9000 §6.2).</summary>
internal sealed partial class QuicConnection
{
    private bool _receivedRetry;

    /// <summary>SCID of the Retry we followed; the server must echo it in retry_source_connection_id (RFC 9000 §7.3).</summary>
    private ConnectionId? _retrySourceConnectionId;

    public bool ReceivedRetry => _receivedRetry;

    private void HandleRetry(TimeSpan now, ReadOnlySpan<byte> packet, in PacketHeader header)
    {
        // RFC 9000 §17.2.5.2: a client accepts at most one Retry, only before any Initial from the server, and
        // discards one whose SCID equals the DCID it sent or whose integrity tag fails (RFC 9001 §5.8).
        ReadOnlySpan<byte> retryScid = header.GetSourceConnectionId(packet);
        if (!IsClient || _receivedRetry || _receivedFirstServerPacket || header.TokenLength == 0
            || retryScid.SequenceEqual(_remoteConnectionId.Span)
            || !RetryIntegrity.Verify(OriginalDestinationConnectionId.Span, packet))
        {
            Stats.PacketsDropped++;
            return;
        }

        _receivedRetry = true;
        _lastActivity = now;
        _retrySourceConnectionId = new ConnectionId(retryScid);
        _remoteConnectionId = _retrySourceConnectionId.Value;
        _remoteIds[0] = new RemoteConnectionIdEntry(0, _remoteConnectionId, null);
        RemoteConnectionIdAtHandshake = _remoteConnectionId;
        _initialToken = header.GetToken(packet).ToArray();

        // RFC 9001 §5.2: Initial keys now come from the Retry's SCID. Packet numbers are not reset (§17.2.5.3);
        // the first flight is sent again with the token, and the old Initial packets will never be acknowledged.
        InstallInitialKeys(_remoteConnectionId);
        PacketNumberSpace initial = Space(PacketNumberSpaceId.Initial);
        long forgotten = initial.Sent.Clear();
        if (forgotten > 0) Congestion?.OnPacketsDiscarded((int)forgotten);
        initial.CryptoSend.RequeueUnacknowledged();
        initial.LossTime = null;
        initial.TimeOfLastAckElicitingPacket = null;
        _ptoCount = 0;
    }

    private void HandleVersionNegotiation(ReadOnlySpan<byte> packet, in PacketHeader header)
    {
        // RFC 9000 §6.2: only a client that has received nothing else acts on Version Negotiation, and ignores one
        // that lists the version it chose (a forgery or a downgrade attempt).
        if (!IsClient || _receivedFirstServerPacket || _receivedRetry
            || !header.GetDestinationConnectionId(packet).SequenceEqual(_localConnectionId.Span)
            || VersionNegotiationPacket.GetSupportedVersions(packet, header).Contains(Version1))
        {
            Stats.PacketsDropped++;
            return;
        }

        // No version in common: the attempt ends without any further packet (RFC 9000 §6.2).
        CloseError = new QuicConnectionError(false, (ulong)TransportErrorCode.NoViablePath, 0,
            "Version Negotiation: the server does not support QUIC version 1.", IsLocal: false);
        EnterClosed();
    }
}
