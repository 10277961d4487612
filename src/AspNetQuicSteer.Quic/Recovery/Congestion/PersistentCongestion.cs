namespace AspNetQuicSteer.Quic.Recovery.Congestion;

/// <summary>
/// Persistent congestion detection, RFC 9002 §7.6. The connection finds, among the packets declared lost, the
/// earliest and the latest ack-eliciting one such that no packet sent between them (in any packet number space) was
/// acknowledged, and asks <see cref="IsEstablished"/>; the answer goes to
/// <see cref="ICongestionController.OnPacketsLost"/>.
/// </summary>
internal static class PersistentCongestion
{
    /// <summary>RFC 9002 §7.6.1 / §B.1 kPersistentCongestionThreshold.</summary>
    public const int Threshold = 3;

    /// <summary>
    /// RFC 9002 §7.6.1: (smoothed_rtt + max(4*rttvar, kGranularity) + max_ack_delay) * kPersistentCongestionThreshold.
    /// Unlike the PTO, max_ack_delay is included whatever the packet number space of the losses.
    /// </summary>
    public static TimeSpan Duration(RttEstimator rtt, TimeSpan maxAckDelay)
    {
        ArgumentNullException.ThrowIfNull(rtt);
        TimeSpan variance = 4 * rtt.RttVariance;
        if (variance < RttEstimator.Granularity) variance = RttEstimator.Granularity;
        return (rtt.SmoothedRtt + variance + maxAckDelay) * Threshold;
    }

    /// <summary>
    /// RFC 9002 §7.6.2: persistent congestion is established when two ack-eliciting packets are declared lost,
    /// <paramref name="noneAcknowledgedBetween"/> (no packet sent between them was acknowledged), the span between
    /// their send times exceeds <see cref="Duration"/>, and both were sent after the first RTT sample, taken at
    /// <paramref name="firstRttSampleTime"/> (packets sent before it cannot start the period).
    /// </summary>
    /// <param name="earliestLostTimeSent">Send time of the earliest ack-eliciting lost packet of the span.</param>
    /// <param name="latestLostTimeSent">Send time of the latest ack-eliciting lost packet of the span.</param>
    /// <param name="noneAcknowledgedBetween">No packet sent between the two was acknowledged.</param>
    /// <param name="firstRttSampleTime">When the connection took its first RTT sample; ignored until <paramref name="rtt"/> has one.</param>
    /// <param name="rtt">The path's RTT estimator.</param>
    /// <param name="maxAckDelay">The peer's max_ack_delay.</param>
    public static bool IsEstablished(
        TimeSpan earliestLostTimeSent,
        TimeSpan latestLostTimeSent,
        bool noneAcknowledgedBetween,
        TimeSpan firstRttSampleTime,
        RttEstimator rtt,
        TimeSpan maxAckDelay)
    {
        ArgumentNullException.ThrowIfNull(rtt);

        // RFC 9002 §7.6.2: the span must contain no acknowledged packet.
        if (!noneAcknowledgedBetween) return false;

        // RFC 9002 §7.6.2: no persistent congestion before the first RTT sample, and only packets sent after it count.
        if (!rtt.HasSample || earliestLostTimeSent < firstRttSampleTime) return false;

        // RFC 9002 §7.6.2: the duration between the two send times must exceed the persistent congestion duration.
        return latestLostTimeSent - earliestLostTimeSent > Duration(rtt, maxAckDelay);
    }
}
