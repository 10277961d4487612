namespace AspNetQuicSteer.Quic.Recovery.Congestion;

/// <summary>
/// Token-bucket pacer, RFC 9002 §7.7. Tokens (bytes) refill at N * congestion_window / smoothed_rtt with N = 5/4,
/// so a full window leaves over about smoothed_rtt / 1.25 instead of in one burst; the bucket holds at most a
/// burst allowance (the initial window, at least one datagram and never more than the congestion window). Integer
/// arithmetic only (128-bit intermediates), no allocation.
/// </summary>
internal sealed class Pacer
{
    /// <summary>RFC 9002 §7.7: N = 1.25, as the fraction 5/4.</summary>
    private const int RateNumerator = 5;
    private const int RateDenominator = 4;

    private long _burstLimit;
    private int _maxDatagramSize;
    private long _tokens;
    private TimeSpan _lastRefill;

    /// <param name="now">Creation time; the bucket starts full.</param>
    /// <param name="maxDatagramSize">The path's max_datagram_size.</param>
    /// <param name="burstLimit">Largest burst in bytes (RFC 9002 §7.7: limit bursts to the initial congestion window).</param>
    public Pacer(TimeSpan now, int maxDatagramSize, long burstLimit)
    {
        _maxDatagramSize = maxDatagramSize;
        _burstLimit = burstLimit;
        _tokens = burstLimit;
        _lastRefill = now;
    }

    /// <summary>Bytes the bucket currently holds (as of the last <see cref="NextSendTime"/>).</summary>
    public long Tokens => _tokens;

    /// <summary>The bucket size for a congestion window: the burst limit, at least one datagram, at most the window.</summary>
    public long Capacity(long congestionWindow)
        => Math.Max(_maxDatagramSize, Math.Min(_burstLimit, congestionWindow));

    /// <summary>The path's datagram size (and so the burst limit) changed.</summary>
    public void OnMaxDatagramSizeChanged(int maxDatagramSize, long burstLimit)
    {
        _maxDatagramSize = maxDatagramSize;
        _burstLimit = burstLimit;
    }

    /// <summary>A packet left: it spends its size in tokens (the bucket does not go into debt).</summary>
    public void OnPacketSent(int bytes) => _tokens = CongestionWindows.SubtractClamped(_tokens, bytes);

    /// <summary>
    /// RFC 9002 §7.7: refills the bucket for the time elapsed since the last refill and returns <paramref name="now"/>
    /// if a packet of <paramref name="bytes"/> may leave, otherwise the time at which enough tokens will have accrued.
    /// Without an RTT (zero smoothed_rtt) there is no rate to pace at, and the packet may leave at once.
    /// </summary>
    public TimeSpan NextSendTime(TimeSpan now, int bytes, long congestionWindow, TimeSpan smoothedRtt)
    {
        long capacity = Capacity(congestionWindow);
        if (_tokens > capacity) _tokens = capacity;

        if (smoothedRtt <= TimeSpan.Zero || congestionWindow <= 0)
        {
            _tokens = capacity;
            _lastRefill = now;
            return now;
        }

        if (_tokens >= capacity)
        {
            // A full bucket banks no time: the next refill counts from now.
            _lastRefill = now;
        }
        else if (now > _lastRefill)
        {
            // RFC 9002 §7.7: rate = N * congestion_window / smoothed_rtt, so refill = elapsed * 5 * cwnd / (4 * srtt).
            Int128 refill = (Int128)(now - _lastRefill).Ticks * congestionWindow * RateNumerator
                / ((Int128)smoothedRtt.Ticks * RateDenominator);
            if (refill > 0)
            {
                // Only advance the refill clock when whole bytes accrued, so frequent calls lose no rate to rounding.
                _tokens = refill >= capacity - _tokens ? capacity : _tokens + (long)refill;
                _lastRefill = now;
            }
        }

        // A packet larger than the bucket waits for a full bucket rather than forever.
        long needed = Math.Min(bytes, capacity);
        if (_tokens >= needed) return now;

        // Time for the missing tokens to accrue, rounded up, counted from the last refill (fractional bytes since
        // then are still owed): ticks = deficit * 4 * srtt / (5 * cwnd).
        Int128 deficit = needed - _tokens;
        Int128 denominator = (Int128)congestionWindow * RateNumerator;
        Int128 ticks = ((deficit * RateDenominator * smoothedRtt.Ticks) + denominator - 1) / denominator;
        Int128 readyTicks = Int128.Min(_lastRefill.Ticks + ticks, TimeSpan.MaxValue.Ticks);
        return readyTicks > now.Ticks ? TimeSpan.FromTicks((long)readyTicks) : now + TimeSpan.FromTicks(1);
    }
}
