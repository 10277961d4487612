using System.Net;
using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Packets;
using AspNetQuicSteer.Quic.Tls;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Connection;

internal sealed partial class QuicConnection
{
    private bool _receivedFirstServerPacket;

    /// <summary>
    /// Processes one UDP datagram, which may coalesce several packets (RFC 9000 §12.2). Malformed or
    /// undecryptable packets are dropped; protocol violations close the connection with the right error.
    /// Never throws for peer input.
    /// </summary>
    public void HandleDatagram(TimeSpan now, EndPoint remote, Span<byte> datagram)
    {
        if (State is QuicConnectionState.Closed or QuicConnectionState.Draining) return;

        Stats.DatagramsReceived++;
        Stats.BytesReceived += datagram.Length;
        if (!remote.Equals(_path.Remote) && (IsClient || !IsHandshakeConfirmed))
        {
            // RFC 9000 §9: a client discards packets from an unknown server address; no migration before the
            // handshake is confirmed.
            Stats.PacketsDropped++;
            return;
        }

        _receivingPath = PathFor(remote);
        _receivingPath.BytesReceived += datagram.Length;

        ReadOnlySpan<byte> firstDcid = default;
        int offset = 0;
        while (offset < datagram.Length)
        {
            Span<byte> remaining = datagram[offset..];
            if (!PacketHeader.TryParse(remaining, _options.LocalConnectionIdLength, out PacketHeader header))
            {
                Stats.PacketsDropped++;
                return;
            }

            Span<byte> packet = remaining[..header.PacketLength];
            offset += header.PacketLength;

            // RFC 9000 §12.2: ignore coalesced packets whose DCID differs from the first one's.
            ReadOnlySpan<byte> dcid = header.GetDestinationConnectionId(packet);
            if (firstDcid.IsEmpty && offset == header.PacketLength)
            {
                firstDcid = dcid;
            }
            else if (!dcid.SequenceEqual(firstDcid))
            {
                Stats.PacketsDropped++;
                continue;
            }

            try
            {
                HandlePacket(now, packet, header);
            }
            catch (QuicProtocolException ex)
            {
                CloseWithError(now, isApplication: false, (ulong)ex.ErrorCode, ex.FrameType, ex.Message);
                return;
            }
            catch (TlsAlertException ex)
            {
                // RFC 9001 §4.8: a TLS alert becomes CRYPTO_ERROR 0x100 + alert; the reason must not leak secrets.
                CloseWithError(now, isApplication: false, (ulong)ex.TransportErrorCode, 0x06, ex.Message);
                return;
            }

            if (State is QuicConnectionState.Closed or QuicConnectionState.Draining) return;
        }
    }

    private void HandlePacket(TimeSpan now, Span<byte> packet, in PacketHeader header)
    {
        EncryptionLevel level;
        switch (header.Type)
        {
            case QuicPacketType.Initial:
                level = EncryptionLevel.Initial;
                break;
            case QuicPacketType.Handshake:
                level = EncryptionLevel.Handshake;
                break;
            case QuicPacketType.OneRtt:
                level = EncryptionLevel.OneRtt;
                break;
            case QuicPacketType.Retry:
                HandleRetry(now, packet, header);
                return;
            case QuicPacketType.VersionNegotiation:
                HandleVersionNegotiation(packet, header);
                return;
            default:
                // 0-RTT is not accepted yet, and unknown versions belong to no connection (RFC 9000 §5.2).
                Stats.PacketsDropped++;
                return;
        }

        if (header.IsLongHeader && header.Version != Version1)
        {
            Stats.PacketsDropped++;
            return;
        }

        PacketNumberSpace space = Space(level.ToSpace());
        if (State == QuicConnectionState.Closing)
        {
            // RFC 9000 §10.2.1: in the closing state, answer incoming packets with CONNECTION_CLOSE only.
            _closeFramePending = true;
            return;
        }

        if (!space.CanReceive || space.ReadKeys is not { } keys)
        {
            // RFC 9001 §5.7: packets for keys we do not (or no longer) have are dropped.
            Stats.PacketsDropped++;
            return;
        }

        // RFC 9001 §5.4.2: the sample must fit; §5.4: remove header protection before reading the packet number.
        if (!keys.TryUnprotectHeader(packet, header.PacketNumberOffset, out int pnLength))
        {
            Stats.PacketsDropped++;
            return;
        }

        uint truncated = PacketNumber.ReadTruncated(packet[header.PacketNumberOffset..], pnLength);
        ulong packetNumber = PacketNumber.Decode(truncated, pnLength, space.LargestReceived);

        bool nextKeyPhase = false;
        PacketProtectionKeys openKeys = level == EncryptionLevel.OneRtt
            ? SelectOneRttReadKeys(space, packet[0], packetNumber, out nextKeyPhase)
            : keys;
        if (!openKeys.TryOpen(packet, header.PacketNumberOffset, pnLength, packetNumber, out int payloadLength))
        {
            // RFC 9001 §5.5 / §9.5: a packet that fails authentication is dropped without any reaction,
            // unless forgeries reach the integrity limit (§6.6).
            Stats.PacketsDropped++;
            if (_integrity.IntegrityLimitReached)
            {
                throw new QuicProtocolException(TransportErrorCode.AeadLimitReached, "AEAD integrity limit reached.");
            }

            return;
        }

        // RFC 9000 §12.3: a packet number already processed (or older than what we still remember) is a duplicate.
        if (packetNumber < space.ReceiveFloor || space.ReceivedPackets.Contains(packetNumber)
            || (!space.ReceivedPackets.IsEmpty && packetNumber < space.ReceivedPackets.Min && space.ReceivedPackets.Count == space.ReceivedPackets.MaxRanges))
        {
            Stats.PacketsDropped++;
            return;
        }

        // RFC 9000 §17.2 / §17.3.1: reserved bits must be zero after removing protection.
        byte reservedMask = header.IsLongHeader ? (byte)0x0c : (byte)0x18;
        if ((packet[0] & reservedMask) != 0)
        {
            throw new QuicProtocolException(TransportErrorCode.ProtocolViolation, "Reserved header bits are set.");
        }

        if (nextKeyPhase) OnNextReadPhaseConfirmed(now, space, packetNumber);

        Stats.PacketsReceived++;
        _lastActivity = now;
        OnFirstPacketOfLevel(level, packet, header);

        _currentPacketDestination = new ConnectionId(header.GetDestinationConnectionId(packet));
        ReadOnlySpan<byte> payload = packet.Slice(header.PacketNumberOffset + pnLength, payloadLength);
        bool ackEliciting = ProcessFrames(now, space, level, header.Type, payload, out bool probingOnly);

        if (space.IsDiscarded) return;
        space.ReceivedPackets.Add(packetNumber);
        if (space.LargestReceived is not { } largest || packetNumber > largest)
        {
            space.LargestReceived = packetNumber;
            space.LargestReceivedTime = now;
        }

        if (ackEliciting)
        {
            OnAckElicitingPacketReceived(now, space);
        }

        ConsiderMigration(now, space, packetNumber, probingOnly);
    }

    private void OnFirstPacketOfLevel(EncryptionLevel level, ReadOnlySpan<byte> packet, in PacketHeader header)
    {
        if (IsClient && header.IsLongHeader && !_receivedFirstServerPacket)
        {
            // RFC 9000 §7.2: the client switches its DCID to the server's SCID from the first packet it receives.
            _receivedFirstServerPacket = true;
            _remoteConnectionId = new ConnectionId(header.GetSourceConnectionId(packet));
            RemoteConnectionIdAtHandshake = _remoteConnectionId;
        }

        if (!IsClient && level == EncryptionLevel.Handshake)
        {
            // RFC 9000 §8.1: a Handshake packet proves the client received our Initial → address validated.
            _path.Validated = true;

            // RFC 9001 §4.9.1: a server discards Initial keys when it first processes a Handshake packet.
            DiscardSpace(PacketNumberSpaceId.Initial);
        }
    }

    private void OnAckElicitingPacketReceived(TimeSpan now, PacketNumberSpace space)
    {
        // The packet's own frames may have completed the handshake and discarded this space (RFC 9001 §4.9);
        // nothing can be acknowledged there any more.
        if (space.IsDiscarded) return;
        space.UnackedAckElicitingCount++;
        space.AckPending = true;

        // RFC 9000 §13.2.1: Initial and Handshake packets are acknowledged immediately; 1-RTT packets within
        // max_ack_delay, and at least every second ack-eliciting packet (§13.2.2).
        if (space.Id != PacketNumberSpaceId.Application || space.UnackedAckElicitingCount >= 2)
        {
            space.AckDeadline = now;
        }
        else
        {
            space.AckDeadline ??= now + _options.MaxAckDelay;
        }
    }

    private void DiscardSpace(PacketNumberSpaceId id)
    {
        PacketNumberSpace space = Space(id);
        if (space.IsDiscarded) return;
        long inFlight = space.Discard();
        if (inFlight > 0) Congestion?.OnPacketsDiscarded((int)inFlight);

        // RFC 9002 §6.4: discarding keys resets the PTO backoff.
        _ptoCount = 0;
    }
}
