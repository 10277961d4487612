namespace AspNetQuicSteer.Quic.Recovery;

/// <summary>Round-trip time estimation, RFC 9002 §5.</summary>
internal sealed class RttEstimator
{
    /// <summary>RFC 9002 §6.2.2: kInitialRtt = 333 ms.</summary>
    public static readonly TimeSpan InitialRtt = TimeSpan.FromMilliseconds(333);

    /// <summary>RFC 9002 §6.1.2: kGranularity = 1 ms.</summary>
    public static readonly TimeSpan Granularity = TimeSpan.FromMilliseconds(1);

    private bool _hasSample;

    public TimeSpan LatestRtt { get; private set; }

    public TimeSpan SmoothedRtt { get; private set; } = InitialRtt;

    public TimeSpan RttVariance { get; private set; } = InitialRtt / 2;

    public TimeSpan MinRtt { get; private set; }

    public bool HasSample => _hasSample;

    /// <summary>
    /// RFC 9002 §5.3. <paramref name="ackDelay"/> is the peer-reported delay, already capped by the caller at
    /// max_ack_delay once the handshake is confirmed (and ignored for Initial packets).
    /// </summary>
    public void Update(TimeSpan latestRtt, TimeSpan ackDelay)
    {
        LatestRtt = latestRtt;
        if (!_hasSample)
        {
            // RFC 9002 §5.2, §5.3: the first sample initialises all estimators.
            _hasSample = true;
            MinRtt = latestRtt;
            SmoothedRtt = latestRtt;
            RttVariance = latestRtt / 2;
            return;
        }

        // RFC 9002 §5.2: min_rtt ignores ack delay.
        if (latestRtt < MinRtt) MinRtt = latestRtt;

        // RFC 9002 §5.3: subtract ack_delay only if the result is not below min_rtt.
        TimeSpan adjusted = latestRtt;
        if (latestRtt >= MinRtt + ackDelay) adjusted = latestRtt - ackDelay;

        TimeSpan deviation = (SmoothedRtt - adjusted).Duration();
        RttVariance = (3 * RttVariance + deviation) / 4;
        SmoothedRtt = (7 * SmoothedRtt + adjusted) / 8;
    }

    /// <summary>RFC 9000 §9.4: a new path starts from the initial estimates.</summary>
    public void Reset()
    {
        _hasSample = false;
        LatestRtt = TimeSpan.Zero;
        MinRtt = TimeSpan.Zero;
        SmoothedRtt = InitialRtt;
        RttVariance = InitialRtt / 2;
    }

    /// <summary>RFC 9002 §6.2.1: PTO = smoothed_rtt + max(4*rttvar, kGranularity) + max_ack_delay.</summary>
    public TimeSpan ProbeTimeout(TimeSpan maxAckDelay)
        => SmoothedRtt + Max(4 * RttVariance, Granularity) + maxAckDelay;

    /// <summary>RFC 9002 §6.1.2: loss delay = kTimeThreshold (9/8) * max(smoothed_rtt, latest_rtt), at least kGranularity.</summary>
    public TimeSpan LossDelay()
        => Max(Max(SmoothedRtt, LatestRtt) * 9 / 8, Granularity);

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
