namespace AspNetQuicSteer.Quic.Recovery.Congestion;

/// <summary>
/// Token-bucket pacer, RFC 9002 §7.7. Tokens (bytes) refill at N * congestion_window / smoothed_rtt with N = 5/4,
/// so a full window leaves over about smoothed_rtt / 1.25 instead of in one burst; the bucket holds at most a
/// burst allowance (the initial window, at least one datagram and never more than the congestion window). Integer
/// arithmetic only (tokens in 2^-20 byte, 128-bit intermediates), no allocation.
/// </summary>
internal sealed class Pacer
{
    /// <summary>RFC 9002 §7.7: N = 1.25, as the fraction 5/4.</summary>
    private const int RateNumerator = 5;
    private const int RateDenominator = 4;

    /// <summary>Tokens are counted in 2^-20 byte so frequent refills lose no rate to rounding.</summary>
    private const int TokenScale = 1 << 20;

    /// <summary>
    /// Bursts may also cover this much time at the pacing rate: an I/O loop cannot wake every few microseconds, and
    /// with only the initial window per wake-up a fast path would be limited by the wake-up rate, not by congestion.
    /// </summary>
    internal static readonly TimeSpan BurstInterval = TimeSpan.FromMilliseconds(2);

    /// <summary>Upper bound of a rate-based burst, in datagrams (one GSO send carries up to 64).</summary>
    internal const int MaxBurstDatagrams = 128;

    private long _burstLimit;
    private int _maxDatagramSize;
    private long _scaledTokens;
    private TimeSpan _lastRefill;

    /// <param name="now">Creation time; the bucket starts full.</param>
    /// <param name="maxDatagramSize">The path's max_datagram_size.</param>
    /// <param name="burstLimit">Largest burst in bytes (RFC 9002 §7.7: limit bursts to the initial congestion window).</param>
    public Pacer(TimeSpan now, int maxDatagramSize, long burstLimit)
    {
        _maxDatagramSize = maxDatagramSize;
        _burstLimit = burstLimit;
        _scaledTokens = burstLimit * TokenScale;
        _lastRefill = now;
    }

    /// <summary>Whole bytes the bucket currently holds (as of the last <see cref="NextSendTime"/>).</summary>
    public long Tokens => _scaledTokens / TokenScale;

    /// <summary>The bucket size for a congestion window: the burst limit, at least one datagram, at most the window.</summary>
    public long Capacity(long congestionWindow)
        => Math.Max(_maxDatagramSize, Math.Min(_burstLimit, congestionWindow));

    /// <summary>
    /// The bucket size at a pacing rate: the larger of the burst limit and <see cref="BurstInterval"/> worth of the
    /// rate (at most <see cref="MaxBurstDatagrams"/>), at least one datagram, never more than the window. RFC 9002 §7.7
    /// limits bursts to the initial window unless the sender knows the path absorbs larger ones ("MAY use a higher
    /// limit"); a rate this high was measured on this path.
    /// </summary>
    public long Capacity(long congestionWindow, TimeSpan smoothedRtt)
    {
        long limit = _burstLimit;
        if (smoothedRtt > TimeSpan.Zero)
        {
            Int128 rateBurst = (Int128)congestionWindow * RateNumerator * BurstInterval.Ticks / ((Int128)smoothedRtt.Ticks * RateDenominator);
            long cap = (long)MaxBurstDatagrams * _maxDatagramSize;
            long burst = rateBurst >= cap ? cap : (long)rateBurst;
            if (burst > limit) limit = burst;
        }

        return Math.Max(_maxDatagramSize, Math.Min(limit, congestionWindow));
    }

    /// <summary>The path's datagram size (and so the burst limit) changed.</summary>
    public void OnMaxDatagramSizeChanged(int maxDatagramSize, long burstLimit)
    {
        _maxDatagramSize = maxDatagramSize;
        _burstLimit = burstLimit;
    }

    /// <summary>A packet left: it spends its size in tokens (the bucket does not go into debt).</summary>
    public void OnPacketSent(int bytes)
        => _scaledTokens = CongestionWindows.SubtractClamped(_scaledTokens, (long)bytes * TokenScale);

    /// <summary>
    /// RFC 9002 §7.7: refills the bucket for the time elapsed since the last refill and returns <paramref name="now"/>
    /// if a packet of <paramref name="bytes"/> may leave, otherwise the time at which enough tokens will have accrued.
    /// Without an RTT (zero smoothed_rtt) there is no rate to pace at, and the packet may leave at once.
    /// </summary>
    public TimeSpan NextSendTime(TimeSpan now, int bytes, long congestionWindow, TimeSpan smoothedRtt)
    {
        long scaledCapacity = Capacity(congestionWindow, smoothedRtt) * TokenScale;
        if (_scaledTokens > scaledCapacity) _scaledTokens = scaledCapacity;

        if (smoothedRtt <= TimeSpan.Zero || congestionWindow <= 0)
        {
            _scaledTokens = scaledCapacity;
            _lastRefill = now;
            return now;
        }

        // RFC 9002 §7.7: rate = N * congestion_window / smoothed_rtt; per tick, 5 * cwnd / (4 * srtt) bytes.
        Int128 perTickNumerator = (Int128)congestionWindow * RateNumerator * TokenScale;
        Int128 perTickDenominator = (Int128)smoothedRtt.Ticks * RateDenominator;
        if (now > _lastRefill)
        {
            Int128 refill = (now - _lastRefill).Ticks * perTickNumerator / perTickDenominator;
            _scaledTokens = refill >= scaledCapacity - _scaledTokens ? scaledCapacity : _scaledTokens + (long)refill;
            _lastRefill = now;
        }

        // A packet larger than the bucket waits for a full bucket rather than forever.
        long needed = Math.Min(bytes * (long)TokenScale, scaledCapacity);
        if (_scaledTokens >= needed) return now;

        // Time for the missing tokens to accrue, rounded up to a whole tick.
        Int128 deficit = needed - _scaledTokens;
        Int128 ticks = ((deficit * perTickDenominator) + perTickNumerator - 1) / perTickNumerator;
        Int128 readyTicks = Int128.Min(now.Ticks + ticks, TimeSpan.MaxValue.Ticks);
        return TimeSpan.FromTicks((long)readyTicks);
    }
}
