using AspNetQuicSteer.Quic.Frames;
using AspNetQuicSteer.Quic.Recovery;
using AspNetQuicSteer.Quic.Recovery.Congestion;
using AspNetQuicSteer.Quic.TransportParameters;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Connection;

internal sealed partial class QuicConnection
{
    /// <summary>RFC 9002 §6.1.1: kPacketThreshold.</summary>
    private const int PacketThreshold = 3;

    private int _ptoCount;

    /// <summary>When the first RTT sample was taken; persistent congestion only counts later losses (RFC 9002 §7.6.2).</summary>
    private TimeSpan? _firstRttSampleTime;

    private TimeSpan PeerMaxAckDelay
        => TimeSpan.FromMilliseconds(PeerTransportParameters?.MaxAckDelayMilliseconds ?? QuicTransportParameters.DefaultMaxAckDelayMilliseconds);

    /// <summary>The path's congestion controller (RFC 9002 §7); null runs without congestion control (tests only).</summary>
    private ICongestionController? Congestion { get; set; }

    /// <summary>The congestion window in bytes (RFC 9002 §7), or null without congestion control; for diagnostics.</summary>
    public long? CongestionWindow => Congestion?.CongestionWindow;

    private void OnPacketSent(TimeSpan now, PacketNumberSpace space, SentPacket sent)
    {
        space.Sent.CommitPacket(sent);
        if (sent.AckEliciting) space.TimeOfLastAckElicitingPacket = now;
        if (sent.InFlight) Congestion?.OnPacketSent(now, sent.Size);
    }

    /// <summary>
    /// RFC 9002 §6.1 / §A.7: processes one ACK frame's ranges (descending, inclusive) for a space.
    /// <paramref name="ackDelay"/> is already decoded with the peer's ack_delay_exponent.
    /// </summary>
    private void OnAckReceived(TimeSpan now, PacketNumberSpace space, ulong largestAcknowledged, TimeSpan ackDelay, ReadOnlySpan<AckRange> ranges)
    {
        // RFC 9000 §13.1: acknowledging a packet that was never sent is a PROTOCOL_VIOLATION.
        if (largestAcknowledged >= space.NextPacketNumber)
        {
            throw new QuicProtocolException(TransportErrorCode.ProtocolViolation,
                $"ACK of packet {largestAcknowledged}, which was never sent.", (ulong)FrameType.Ack);
        }

        if (space.LargestAcknowledged is not { } previous || largestAcknowledged > previous)
        {
            space.LargestAcknowledged = largestAcknowledged;
        }

        bool newlyAcked = false;
        bool largestNewlyAckedIsAckEliciting = false;
        TimeSpan largestNewlyAckedSentTime = default;
        SentPacketTracker sent = space.Sent;
        foreach (AckRange range in ranges)
        {
            int slot = sent.LowerBound(range.Smallest);
            for (; slot < sent.SlotCount; slot++)
            {
                ref SentPacket packet = ref sent.Slot(slot);
                if (packet.PacketNumber > range.Largest) break;
                if (packet.Removed) continue;

                if (packet.PacketNumber == largestAcknowledged)
                {
                    largestNewlyAckedIsAckEliciting = packet.AckEliciting;
                    largestNewlyAckedSentTime = packet.TimeSent;
                }

                newlyAcked = true;
                OnPacketAcknowledged(now, space, ref packet);
                sent.Remove(slot);
            }
        }

        sent.Compact();

        if (!newlyAcked) return;

        // RFC 9002 §5.1: an RTT sample needs the largest acknowledged to be newly acked and ack-eliciting.
        if (largestNewlyAckedIsAckEliciting)
        {
            // RFC 9002 §5.3: ack delay is ignored for Initial/Handshake and capped by max_ack_delay once confirmed.
            TimeSpan effectiveDelay = space.Id == PacketNumberSpaceId.Application ? ackDelay : TimeSpan.Zero;
            if (IsHandshakeConfirmed && effectiveDelay > PeerMaxAckDelay) effectiveDelay = PeerMaxAckDelay;
            _rtt.Update(now - largestNewlyAckedSentTime, effectiveDelay);
            _firstRttSampleTime ??= now;
        }

        DetectLostPackets(now, space);

        // RFC 9002 §6.2.1: the PTO backoff resets when an acknowledgment arrives (the client only once the
        // server has validated its address, which any ACK of ours implies here).
        _ptoCount = 0;
    }

    private void OnPacketAcknowledged(TimeSpan now, PacketNumberSpace space, ref SentPacket packet)
    {
        if (packet.InFlight) Congestion?.OnPacketAcknowledged(now, packet.TimeSent, packet.Size, _rtt);

        // RFC 9000 §13.2.4: once an ACK we sent is acknowledged, the ranges it covered need not be repeated.
        if (packet.LargestAcknowledgedInAck is { } acked && acked + 1 > space.ReceiveFloor)
        {
            space.ReceiveFloor = acked + 1;
            space.ReceivedPackets.RemoveBelow(acked + 1);
        }

        foreach (ref SentFrame frame in space.Sent.GetFrames(packet))
        {
            OnFrameAcknowledged(space, in frame);
        }
    }

    private void OnFrameAcknowledged(PacketNumberSpace space, in SentFrame frame)
    {
        switch (frame.Kind)
        {
            case SentFrameKind.Crypto:
                space.CryptoSend.MarkAcknowledged(frame.Offset, (int)frame.Length);
                break;
            case SentFrameKind.Ping:
            case SentFrameKind.HandshakeDone:
            case SentFrameKind.PathChallenge:
            case SentFrameKind.PathResponse:
                break;
            default:
                OnApplicationFrameAcknowledged(in frame);
                break;
        }
    }

    private void OnFrameLost(PacketNumberSpace space, in SentFrame frame)
    {
        switch (frame.Kind)
        {
            case SentFrameKind.Crypto:
                space.CryptoSend.MarkLost(frame.Offset, (int)frame.Length);
                break;
            case SentFrameKind.HandshakeDone:
                // RFC 9000 §13.3: HANDSHAKE_DONE is retransmitted until acknowledged.
                _handshakeDonePending = true;
                break;
            case SentFrameKind.Ping:
            case SentFrameKind.PathChallenge:
            case SentFrameKind.PathResponse:
                // RFC 9000 §13.3: PING carries nothing; path validation frames are not retransmitted (§8.2.2).
                break;
            default:
                OnApplicationFrameLost(in frame);
                break;
        }
    }

    /// <summary>RFC 9002 §6.1: packet- and time-threshold loss detection.</summary>
    private void DetectLostPackets(TimeSpan now, PacketNumberSpace space)
    {
        space.LossTime = null;
        if (space.LargestAcknowledged is not { } largestAcked) return;

        TimeSpan lossDelay = _rtt.LossDelay();
        TimeSpan lostSendTime = now - lossDelay;
        int lostBytes = 0;
        TimeSpan newestLostTimeSent = TimeSpan.MinValue;
        TimeSpan oldestLostAckElicitingTimeSent = TimeSpan.MaxValue;
        TimeSpan newestLostAckElicitingTimeSent = TimeSpan.MinValue;
        bool resolvedSinceFirstLoss = false, acknowledgedBetweenLosses = false;
        SentPacketTracker sent = space.Sent;
        for (int slot = 0; slot < sent.SlotCount; slot++)
        {
            ref SentPacket packet = ref sent.Slot(slot);
            if (packet.PacketNumber > largestAcked) break;
            if (packet.Removed)
            {
                // Conservative for RFC 9002 §7.6.2: a packet resolved earlier (acknowledged, or lost before) between
                // two losses of this pass counts as acknowledged, which can only prevent declaring persistent congestion.
                resolvedSinceFirstLoss |= oldestLostAckElicitingTimeSent != TimeSpan.MaxValue;
                continue;
            }

            if (packet.TimeSent <= lostSendTime || largestAcked >= packet.PacketNumber + PacketThreshold)
            {
                Stats.PacketsLost++;
                acknowledgedBetweenLosses |= resolvedSinceFirstLoss && packet.AckEliciting;
                if (packet.InFlight)
                {
                    lostBytes += packet.Size;
                    if (packet.TimeSent > newestLostTimeSent) newestLostTimeSent = packet.TimeSent;
                }

                if (packet.AckEliciting)
                {
                    if (packet.TimeSent < oldestLostAckElicitingTimeSent) oldestLostAckElicitingTimeSent = packet.TimeSent;
                    if (packet.TimeSent > newestLostAckElicitingTimeSent) newestLostAckElicitingTimeSent = packet.TimeSent;
                }

                foreach (ref SentFrame frame in sent.GetFrames(packet))
                {
                    OnFrameLost(space, in frame);
                }

                sent.Remove(slot);
            }
            else
            {
                TimeSpan lossAt = packet.TimeSent + lossDelay;
                if (space.LossTime is not { } current || lossAt < current) space.LossTime = lossAt;
            }
        }

        sent.Compact();
        if (lostBytes > 0)
        {
            // RFC 9002 §7.6: persistent congestion from the span of ack-eliciting losses with nothing acknowledged between.
            bool persistent = _firstRttSampleTime is { } firstSample
                && oldestLostAckElicitingTimeSent != TimeSpan.MaxValue
                && PersistentCongestion.IsEstablished(oldestLostAckElicitingTimeSent, newestLostAckElicitingTimeSent,
                    !acknowledgedBetweenLosses, firstSample, _rtt, PeerMaxAckDelay);
            Congestion?.OnPacketsLost(now, lostBytes, newestLostTimeSent, persistent);
        }
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

    private void OnProbeTimeout(PacketNumberSpace space)
    {
        _ptoCount++;
        Stats.ProbeTimeouts++;

        // RFC 9002 §6.2.4: send one or two ack-eliciting probes, carrying data that is still unacknowledged when
        // there is some: requeue the unacknowledged frames of the oldest outstanding packets.
        space.CryptoSend.RequeueUnacknowledged();
        SentPacketTracker sent = space.Sent;
        int requeued = 0;
        for (int slot = 0; slot < sent.SlotCount && requeued < 2; slot++)
        {
            ref SentPacket packet = ref sent.Slot(slot);
            if (packet.Removed || !packet.AckEliciting) continue;
            foreach (ref SentFrame frame in sent.GetFrames(packet))
            {
                if (frame.Kind != SentFrameKind.Crypto) OnFrameLost(space, in frame);
            }

            requeued++;
        }

        space.ProbesPending = 2;
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

            if (_pacingDeadline is { } pacing && pacing > now && pacing < next) next = pacing;
        }

        if (PathValidationDeadline is { } validation && validation < next) next = validation;
        // Armed whenever probing is on: whether a request awaits data is looked at only when it fires (once per
        // interval at most), not on every turn.
        if (LivenessProbeDeadline is { } probe && probe < next) next = probe;

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

        if (LivenessProbeDeadline is { } probe && probe <= now)
        {
            // RFC 9000 §10.1.2: expecting the peer's data with nothing to send, elicit an acknowledgment (or a reset).
            _lastLivenessProbe = now;
            if (_streams.IsAwaitingPeerData) _pingPending = true;
        }

        if (_pacingDeadline is { } pacing && pacing <= now) _pacingDeadline = null;
        DiscardPreviousReadKeysIfDue(now);
        CheckPathValidationTimeout(now);

        if (IsAmplificationBlocked) return;
        (TimeSpan pto, PacketNumberSpace? ptoSpace) = GetProbeTimeout(now);
        if (ptoSpace is not null && pto <= now) OnProbeTimeout(ptoSpace);
    }

    /// <summary>When to probe a silent peer (<see cref="QuicConnectionOptions.LivenessProbeInterval"/>); null when off.</summary>
    private TimeSpan? LivenessProbeDeadline
    {
        get
        {
            TimeSpan interval = _options.LivenessProbeInterval;
            if (interval == TimeSpan.Zero || !IsHandshakeComplete || State != QuicConnectionState.Connected) return null;
            TimeSpan pto = _rtt.ProbeTimeout(PeerMaxAckDelay);
            if (pto > interval) interval = pto;
            return (_lastActivity > _lastLivenessProbe ? _lastActivity : _lastLivenessProbe) + interval;
        }
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
