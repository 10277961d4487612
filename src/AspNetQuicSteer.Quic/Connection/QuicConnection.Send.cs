using System.Net;
using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Packets;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Connection;

internal sealed partial class QuicConnection
{
    /// <summary>Datagram size used until path MTU discovery exists (RFC 9000 §14: 1200 always works).</summary>
    private const int MaxDatagramSize = MinInitialDatagramSize;

    private const int AeadTagLength = PacketProtectionKeys.TagLength;

    /// <summary>Below this many bytes of room, no useful packet fits (header, a frame, the AEAD tag).</summary>
    private const int MinUsefulDatagram = 64;

    /// <summary>When pacing (RFC 9002 §7.7) holds the next packet back, the time it may go.</summary>
    private TimeSpan? _pacingDeadline;

    /// <summary>RFC 9000 §8.1: before the client's address is validated, a server sends at most 3x what it received.</summary>
    private long AmplificationBudget => _path.AmplificationBudget;

    private bool IsAmplificationBlocked => AmplificationBudget < MinUsefulDatagram;

    /// <summary>
    /// Writes the next datagram to send into <paramref name="buffer"/> and returns its length, or 0 when there
    /// is nothing to send now. Packets of several spaces are coalesced (RFC 9000 §12.2). Call until it returns 0.
    /// </summary>
    public int PollTransmit(TimeSpan now, Span<byte> buffer, out EndPoint destination)
    {
        destination = _path.Remote;
        if (State is QuicConnectionState.Closed or QuicConnectionState.Draining) return 0;

        if (State == QuicConnectionState.Connected && OffPathWithPendingFrames() is { } offPath)
        {
            destination = offPath.Remote;
            return BuildOffPathDatagram(now, buffer, offPath);
        }

        int limit = Math.Min(buffer.Length, MaxDatagramSize);
        long budget = AmplificationBudget;
        if (budget < limit)
        {
            if (HasAnythingToSend(now, congestionBlocked: false)) Stats.AmplificationLimited++;
            limit = (int)Math.Max(0, budget);
        }

        if (limit < MinUsefulDatagram) return 0;

        bool congestionBlocked = IsCongestionBlocked(now, limit);
        Span<byte> datagram = buffer[..limit];
        int written = 0;
        bool containsInitial = false;
        bool ackElicitingInitial = false;

        Span<PacketNumberSpaceId> ready = stackalloc PacketNumberSpaceId[3];
        int readyCount = 0;
        for (int i = 0; i < _spaces.Length; i++)
        {
            if (SpaceHasDataToSend(_spaces[i], now, congestionBlocked)) ready[readyCount++] = _spaces[i].Id;
        }

        for (int i = 0; i < readyCount; i++)
        {
            PacketNumberSpace space = Space(ready[i]);
            bool last = i == readyCount - 1;

            // RFC 9000 §14.1: a client pads every datagram carrying an Initial packet to 1200 bytes, a server every
            // datagram carrying an ack-eliciting Initial. Padding goes into the last packet of the datagram.
            bool initialInDatagram = containsInitial || space.Id == PacketNumberSpaceId.Initial;
            bool initialAckEliciting = ackElicitingInitial
                || (space.Id == PacketNumberSpaceId.Initial && (space.CryptoSend.HasPendingData || space.ProbesPending > 0));
            bool mustPad = last && ((initialInDatagram && (IsClient || initialAckEliciting))
                || (space.Id == PacketNumberSpaceId.Application && _path.ChallengePending));
            int padTo = mustPad ? Math.Min(MinInitialDatagramSize, limit) - written : 0;

            int length = BuildPacket(now, space, datagram[written..], padTo, congestionBlocked, out bool ackEliciting);
            if (length == 0) continue;
            if (space.Id == PacketNumberSpaceId.Initial)
            {
                containsInitial = true;
                ackElicitingInitial = ackEliciting;
            }

            written += length;

            if (IsClient && space.Id == PacketNumberSpaceId.Handshake)
            {
                // RFC 9001 §4.9.1: a client discards Initial keys when it first sends a Handshake packet.
                DiscardSpace(PacketNumberSpaceId.Initial);
            }
        }

        if (Congestion is not null)
        {
            // RFC 9002 §7.8: the window only grows while it limits us; a pass that found nothing to send is app-limited.
            Congestion.IsApplicationLimited = !congestionBlocked && written == 0;
        }

        if (written == 0) return 0;

        if (State == QuicConnectionState.Closing) _closeFramePending = false;
        Stats.DatagramsSent++;
        Stats.BytesSent += written;
        _path.BytesSent += written;
        return written;
    }

    /// <summary>
    /// A datagram to a path other than the active one, carrying only PATH_CHALLENGE / PATH_RESPONSE (probing
    /// frames, RFC 9000 §9.1), expanded to 1200 bytes unless that path's anti-amplification budget is smaller
    /// (§8.2.1, §8.2.2).
    /// </summary>
    private int BuildOffPathDatagram(TimeSpan now, Span<byte> buffer, QuicPath path)
    {
        int limit = (int)Math.Min(Math.Min(buffer.Length, MaxDatagramSize), path.AmplificationBudget);
        PacketNumberSpace app = Space(PacketNumberSpaceId.Application);
        if (limit < MinUsefulDatagram || !app.CanSend)
        {
            // Nothing may go to this path now; drop its pending responses rather than spin (§8.2.2 allows it).
            while (_pendingPathResponses.TryPeek(out (QuicPath Path, ulong Data) pending) && ReferenceEquals(pending.Path, path)) _pendingPathResponses.Dequeue();
            path.ChallengePending = false;
            return 0;
        }

        int length = BuildPacket(now, app, buffer[..limit], padTo: limit, congestionBlocked: false, out _, offPath: path);
        if (length == 0) return 0;
        Stats.DatagramsSent++;
        Stats.BytesSent += length;
        path.BytesSent += length;
        return length;
    }

    /// <summary>RFC 9002 §7: new data waits for congestion window; §7.7: and for the pacer.</summary>
    private bool IsCongestionBlocked(TimeSpan now, int datagramSize)
    {
        if (Congestion is null || State == QuicConnectionState.Closing) return false;
        if (Congestion.AvailableWindow < datagramSize) return true;

        TimeSpan sendAt = Congestion.NextSendTime(now, datagramSize, _rtt);
        if (sendAt > now)
        {
            _pacingDeadline = sendAt;
            return true;
        }

        _pacingDeadline = null;
        return false;
    }

    private bool HasAnythingToSend(TimeSpan now, bool congestionBlocked)
    {
        foreach (PacketNumberSpace space in _spaces)
        {
            if (SpaceHasDataToSend(space, now, congestionBlocked)) return true;
        }

        return false;
    }

    private bool SpaceHasDataToSend(PacketNumberSpace space, TimeSpan now, bool congestionBlocked)
    {
        if (!space.CanSend) return false;
        if (State == QuicConnectionState.Closing) return _closeFramePending && ShouldSendCloseIn(space);

        // RFC 9002 §7.5: probes are sent even when the congestion window is full.
        if (space.ProbesPending > 0) return true;
        if (space.AckPending && space.AckDeadline is { } deadline && deadline <= now) return true;
        if (congestionBlocked) return false;
        if (space.CryptoSend.HasPendingData) return true;
        return space.Id == PacketNumberSpaceId.Application && HasApplicationDataToSend;
    }

    /// <summary>Builds one packet at the start of <paramref name="destination"/>; returns its protected length or 0.</summary>
    private int BuildPacket(TimeSpan now, PacketNumberSpace space, Span<byte> destination, int padTo, bool congestionBlocked, out bool ackEliciting, QuicPath? offPath = null)
    {
        ackEliciting = false;
        PacketProtectionKeys keys = space.WriteKeys!;
        ulong packetNumber = space.NextPacketNumber;
        int pnLength = PacketNumber.GetEncodedLength(packetNumber, space.LargestAcknowledged);

        int headerLength = space.Id == PacketNumberSpaceId.Application
            ? ShortHeaderWriter.GetHeaderLength(_remoteConnectionId.Length, pnLength)
            : LongHeaderWriter.GetHeaderLength(SpaceToPacketType(space.Id), _remoteConnectionId.Length, _localConnectionId.Length, InitialToken.Length, pnLength);

        // Room for the header, at least a few frame bytes and the AEAD tag.
        if (destination.Length < headerLength + AeadTagLength + 8) return 0;

        var writer = new QuicWriter(destination[..^AeadTagLength]);
        LongHeaderLayout layout = default;
        int pnOffset;
        if (space.Id == PacketNumberSpaceId.Application)
        {
            pnOffset = ShortHeaderWriter.Write(ref writer, _remoteConnectionId.Span, packetNumber, pnLength, spin: false, keyPhase: _keyPhase != 0);
        }
        else
        {
            ReadOnlySpan<byte> token = space.Id == PacketNumberSpaceId.Initial ? InitialToken : default;
            layout = LongHeaderWriter.Write(ref writer, SpaceToPacketType(space.Id), Version1, _remoteConnectionId.Span, _localConnectionId.Span, token, packetNumber, pnLength);
            pnOffset = layout.PacketNumberOffset;
        }

        int payloadStart = writer.Position;
        var sent = new SentPacket { PacketNumber = packetNumber, TimeSent = now };
        SentPacketTracker tracker = space.Sent;
        tracker.BeginPacket();

        if (offPath is not null)
        {
            WritePathFrames(ref writer, tracker, offPath);
        }
        else if (State == QuicConnectionState.Closing)
        {
            WriteConnectionClose(ref writer, space);
        }
        else
        {
            if (space.AckPending && !space.ReceivedPackets.IsEmpty)
            {
                sent.LargestAcknowledgedInAck = WriteAck(ref writer, space, now);
            }

            bool mayAddData = !congestionBlocked || space.ProbesPending > 0;
            if (mayAddData)
            {
                if (space.Id == PacketNumberSpaceId.Application && _handshakeDonePending && writer.Remaining >= 1)
                {
                    WriteHandshakeDone(ref writer);
                    tracker.Record(SentFrame.ForValue(SentFrameKind.HandshakeDone, 0));
                    _handshakeDonePending = false;
                }

                if (space.CryptoSend.HasPendingData && TryWriteCrypto(ref writer, space, out ulong cryptoOffset, out int cryptoLength))
                {
                    tracker.Record(new SentFrame { Kind = SentFrameKind.Crypto, Offset = cryptoOffset, Length = (ulong)cryptoLength });
                }

                if (space.Id == PacketNumberSpaceId.Application)
                {
                    WriteApplicationFrames(ref writer, tracker, now);
                }
            }

            ackEliciting = tracker.PendingFrameCount > 0;
            if (space.ProbesPending > 0)
            {
                // RFC 9002 §6.2.4: a probe must be ack-eliciting; PING when nothing else was retransmittable.
                if (!ackEliciting && writer.Remaining >= 1)
                {
                    WritePing(ref writer);
                    tracker.Record(SentFrame.ForValue(SentFrameKind.Ping, 0));
                    ackEliciting = true;
                }

                space.ProbesPending--;
            }
        }

        int payloadLength = writer.Position - payloadStart;
        if (payloadLength == 0)
        {
            tracker.AbortPacket();
            return 0;
        }

        // RFC 9001 §5.4.2: enough bytes after the packet number for the header protection sample; and padding
        // requested for the datagram (RFC 9000 §14.1). PADDING frames are single zero bytes (§19.1).
        int minPayload = PacketProtectionKeys.MinPayloadLength(pnLength);
        int padBytes = Math.Max(minPayload - payloadLength, padTo - (writer.Position + AeadTagLength));
        if (padBytes > 0)
        {
            writer.Reserve(Math.Min(padBytes, writer.Remaining)).Clear();
        }

        payloadLength = writer.Position - payloadStart;
        int packetEnd = writer.Position + AeadTagLength;
        if (space.Id != PacketNumberSpaceId.Application)
        {
            LongHeaderWriter.PatchLength(destination, layout, packetEnd);
        }

        int total = keys.Seal(destination, pnOffset, pnLength, payloadLength, packetNumber);

        space.NextPacketNumber++;
        Stats.PacketsSent++;
        sent.Size = total;
        sent.AckEliciting = ackEliciting;

        // RFC 9002 §2: in flight = ack-eliciting or carrying PADDING.
        sent.InFlight = ackEliciting || padBytes > 0;
        OnPacketSent(now, space, sent);
        return total;
    }

    private static bool TryWriteCrypto(ref QuicWriter writer, PacketNumberSpace space, out ulong offset, out int length)
    {
        // CRYPTO frame overhead: type (1) + offset varint (≤8) + length varint (≤4).
        int room = writer.Remaining - 13;
        if (room <= 0 || !space.CryptoSend.TryPeekPending(room, out offset, out ReadOnlySpan<byte> data))
        {
            offset = 0;
            length = 0;
            return false;
        }

        WriteCrypto(ref writer, offset, data);
        length = data.Length;
        space.CryptoSend.MarkSent(offset, length);
        return true;
    }

    private static QuicPacketType SpaceToPacketType(PacketNumberSpaceId id)
        => id == PacketNumberSpaceId.Initial ? QuicPacketType.Initial : QuicPacketType.Handshake;
}
