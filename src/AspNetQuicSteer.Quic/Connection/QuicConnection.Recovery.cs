using AspNetQuicSteer.Quic.Frames;
using AspNetQuicSteer.Quic.Recovery;
using AspNetQuicSteer.Quic.TransportParameters;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Connection;

internal sealed partial class QuicConnection
{
    /// <summary>RFC 9002 §6.1.1: kPacketThreshold.</summary>
    private const int PacketThreshold = 3;

    private int _ptoCount;

    private TimeSpan PeerMaxAckDelay
        => TimeSpan.FromMilliseconds(PeerTransportParameters?.MaxAckDelayMilliseconds ?? 25);

    private static void OnPacketSent(TimeSpan now, PacketNumberSpace space, SentPacket sent)
    {
        if (!sent.InFlight) return;
        space.SentPackets.Add(sent);
        if (sent.AckEliciting)
        {
            space.AckElicitingInFlight++;
            space.TimeOfLastAckElicitingPacket = now;
        }
    }

    /// <summary>
    /// RFC 9002 §6.1 / §A.7: processes one ACK frame's ranges (given descending, inclusive) for a space.
    /// <paramref name="ackDelay"/> is already decoded with the peer's ack_delay_exponent.
    /// </summary>
    private void OnAckReceived(TimeSpan now, PacketNumberSpace space, ulong largestAcknowledged, TimeSpan ackDelay, ReadOnlySpan<AckRange> ranges)
    {
        // RFC 9000 §13.1: acknowledging a packet that was never sent is a PROTOCOL_VIOLATION.
        if (largestAcknowledged >= space.NextPacketNumber)
        {
            throw new QuicProtocolException(TransportErrorCode.ProtocolViolation,
                $"ACK of packet {largestAcknowledged}, which was never sent.", 0x02);
        }

        if (space.LargestAcknowledged is not { } previous || largestAcknowledged > previous)
        {
            space.LargestAcknowledged = largestAcknowledged;
        }

        bool newlyAcked = false;
        bool largestNewlyAckedIsAckEliciting = false;
        TimeSpan largestNewlyAckedSentTime = default;
        List<SentPacket> sentPackets = space.SentPackets;
        for (int i = sentPackets.Count - 1; i >= 0; i--)
        {
            SentPacket packet = sentPackets[i];
            if (!IsInRanges(packet.PacketNumber, ranges)) continue;

            if (!newlyAcked)
            {
                newlyAcked = true;
                if (packet.PacketNumber == largestAcknowledged)
                {
                    largestNewlyAckedIsAckEliciting = packet.AckEliciting;
                    largestNewlyAckedSentTime = packet.TimeSent;
                }
            }

            OnPacketAcknowledged(space, packet);
            sentPackets.RemoveAt(i);
        }

        if (!newlyAcked) return;

        // RFC 9002 §5.1: an RTT sample needs the largest acknowledged to be newly acked and ack-eliciting.
        if (largestNewlyAckedIsAckEliciting)
        {
            // RFC 9002 §5.3: ack delay is ignored for Initial packets and capped by max_ack_delay once confirmed.
            TimeSpan effectiveDelay = space.Id == PacketNumberSpaceId.Application ? ackDelay : TimeSpan.Zero;
            if (IsHandshakeConfirmed && effectiveDelay > PeerMaxAckDelay) effectiveDelay = PeerMaxAckDelay;
            _rtt.Update(now - largestNewlyAckedSentTime, effectiveDelay);
        }

        DetectLostPackets(now, space);

        // RFC 9002 §6.2.1: the PTO backoff resets when an acknowledgment arrives (the client only once the
        // server has validated its address, which any ACK of ours implies here).
        _ptoCount = 0;
    }

    private static bool IsInRanges(ulong packetNumber, ReadOnlySpan<AckRange> ranges)
    {
        foreach ((ulong smallest, ulong largest) in ranges)
        {
            if (packetNumber >= smallest && packetNumber <= largest) return true;
        }

        return false;
    }

    private static void OnPacketAcknowledged(PacketNumberSpace space, in SentPacket packet)
    {
        if (packet.AckEliciting) space.AckElicitingInFlight--;
        if (packet.CryptoLength > 0) space.CryptoSend.MarkAcknowledged(packet.CryptoOffset, packet.CryptoLength);
    }

    /// <summary>RFC 9002 §6.1: packet- and time-threshold loss detection.</summary>
    private void DetectLostPackets(TimeSpan now, PacketNumberSpace space)
    {
        space.LossTime = null;
        if (space.LargestAcknowledged is not { } largestAcked) return;

        TimeSpan lossDelay = _rtt.LossDelay();
        TimeSpan lostSendTime = now - lossDelay;
        List<SentPacket> sentPackets = space.SentPackets;
        for (int i = 0; i < sentPackets.Count; i++)
        {
            SentPacket packet = sentPackets[i];
            if (packet.PacketNumber > largestAcked) break;

            if (packet.TimeSent <= lostSendTime || largestAcked >= packet.PacketNumber + PacketThreshold)
            {
                OnPacketLost(space, packet);
                sentPackets.RemoveAt(i--);
            }
            else
            {
                TimeSpan lossAt = packet.TimeSent + lossDelay;
                if (space.LossTime is not { } current || lossAt < current) space.LossTime = lossAt;
            }
        }
    }

    private void OnPacketLost(PacketNumberSpace space, in SentPacket packet)
    {
        Stats.PacketsLost++;
        if (packet.AckEliciting) space.AckElicitingInFlight--;
        if (packet.CryptoLength > 0) space.CryptoSend.MarkLost(packet.CryptoOffset, packet.CryptoLength);
        if (packet.CarriesHandshakeDone) _handshakeDonePending = true;
    }

    /// <summary>RFC 9002 §A.8 GetPtoTimeAndSpace.</summary>
    private (TimeSpan Time, PacketNumberSpace? Space) GetProbeTimeout(TimeSpan now)
    {
        TimeSpan duration = _rtt.ProbeTimeout(TimeSpan.Zero) * (1 << Math.Min(_ptoCount, 16));

        bool anyInFlight = false;
        foreach (PacketNumberSpace s in _spaces)
        {
            if (s.AckElicitingInFlight > 0) anyInFlight = true;
        }

        if (!anyInFlight)
        {
            // RFC 9002 §6.2.2.1: a client arms the PTO even with nothing in flight until the handshake is
            // confirmed, so the server is never deadlocked by the anti-amplification limit.
            if (IsClient && !IsHandshakeConfirmed)
            {
                PacketNumberSpace probeSpace = Space(PacketNumberSpaceId.Handshake).CanSend
                    ? Space(PacketNumberSpaceId.Handshake)
                    : Space(PacketNumberSpaceId.Initial);
                return probeSpace.CanSend ? (now + duration, probeSpace) : (TimeSpan.MaxValue, null);
            }

            return (TimeSpan.MaxValue, null);
        }

        TimeSpan best = TimeSpan.MaxValue;
        PacketNumberSpace? bestSpace = null;
        foreach (PacketNumberSpace s in _spaces)
        {
            if (s.AckElicitingInFlight == 0 || s.TimeOfLastAckElicitingPacket is not { } last) continue;
            TimeSpan spaceDuration = duration;
            if (s.Id == PacketNumberSpaceId.Application)
            {
                // RFC 9002 §6.2.1: no application-space PTO before the handshake is confirmed; include max_ack_delay.
                if (!IsHandshakeConfirmed) continue;
                spaceDuration += PeerMaxAckDelay * (1 << Math.Min(_ptoCount, 16));
            }

            TimeSpan t = last + spaceDuration;
            if (t < best)
            {
                best = t;
                bestSpace = s;
            }
        }

        return (best, bestSpace);
    }

    private void OnProbeTimeout(TimeSpan now, PacketNumberSpace space)
    {
        _ptoCount++;
        Stats.ProbeTimeouts++;

        // RFC 9002 §6.2.4: send one or two ack-eliciting probes; retransmit unacknowledged CRYPTO data first.
        space.CryptoSend.RequeueUnacknowledged();
        space.ProbesPending = 2;
        if (space.Id == PacketNumberSpaceId.Application && !IsClient && IsHandshakeComplete && HasUnacknowledgedHandshakeDone(space))
        {
            _handshakeDonePending = true;
        }
    }

    private static bool HasUnacknowledgedHandshakeDone(PacketNumberSpace space)
    {
        foreach (SentPacket packet in space.SentPackets)
        {
            if (packet.CarriesHandshakeDone) return true;
        }

        return false;
    }

    /// <summary>The earliest time <see cref="HandleTimeout"/> must be called, or null when nothing is armed.</summary>
    public TimeSpan? NextTimeout(TimeSpan now)
    {
        if (State == QuicConnectionState.Closed) return null;
        if (State is QuicConnectionState.Closing or QuicConnectionState.Draining) return _closeDeadline;

        TimeSpan next = IdleDeadline;
        foreach (PacketNumberSpace space in _spaces)
        {
            if (space.LossTime is { } loss && loss < next) next = loss;
        }

        // RFC 9002 §6.2.2.1: a server blocked by the anti-amplification limit arms no PTO (and has no ACK to send)
        // until the client sends more; reporting those deadlines would only make the driver spin.
        if (!IsAmplificationBlocked)
        {
            foreach (PacketNumberSpace space in _spaces)
            {
                if (space.AckPending && space.AckDeadline is { } ack && ack < next) next = ack;
            }

            (TimeSpan pto, PacketNumberSpace? ptoSpace) = GetProbeTimeout(now);
            if (ptoSpace is not null && pto < next) next = pto;
        }

        return next == TimeSpan.MaxValue ? null : next;
    }

    /// <summary>Runs every timer that expired at <paramref name="now"/>.</summary>
    public void HandleTimeout(TimeSpan now)
    {
        switch (State)
        {
            case QuicConnectionState.Closed:
                return;
            case QuicConnectionState.Closing or QuicConnectionState.Draining:
                if (now >= _closeDeadline) EnterClosed();
                return;
        }

        if (now >= IdleDeadline)
        {
            // RFC 9000 §10.1: idle timeout closes silently.
            CloseError ??= new QuicConnectionError(false, (ulong)TransportErrorCode.NoError, 0, "Idle timeout.", IsLocal: true);
            EnterClosed();
            return;
        }

        foreach (PacketNumberSpace space in _spaces)
        {
            if (space.LossTime is { } loss && loss <= now) DetectLostPackets(now, space);
        }

        if (IsAmplificationBlocked) return;
        (TimeSpan pto, PacketNumberSpace? ptoSpace) = GetProbeTimeout(now);
        if (ptoSpace is not null && pto <= now) OnProbeTimeout(now, ptoSpace);
    }

    /// <summary>RFC 9000 §10.1: the effective idle timeout is the minimum of both sides', and at least 3 PTOs.</summary>
    private TimeSpan IdleDeadline
    {
        get
        {
            TimeSpan local = _options.IdleTimeout;
            TimeSpan peer = TimeSpan.FromMilliseconds(PeerTransportParameters?.MaxIdleTimeoutMilliseconds ?? 0);
            TimeSpan timeout = local == TimeSpan.Zero ? peer : peer == TimeSpan.Zero ? local : (local < peer ? local : peer);
            if (timeout == TimeSpan.Zero) return TimeSpan.MaxValue;
            TimeSpan floor = 3 * _rtt.ProbeTimeout(PeerMaxAckDelay);
            return _lastActivity + (timeout > floor ? timeout : floor);
        }
    }
}
