namespace AspNetQuicSteer.Quic.Endpoint.Stateless;

/// <summary>
/// Token bucket bounding the Stateless Resets an endpoint sends (RFC 9000 §10.3.3: an endpoint can stop generating
/// resets once a limit is reached; resets answer unauthenticated packets, so an attacker spoofing a victim's address
/// could otherwise use the endpoint as a reflector). <see cref="RatePerSecond"/> resets per second on average, bursts
/// up to <see cref="Burst"/>. Time is the endpoint's monotonic clock (the <c>TimeSpan now</c> it already passes around).
/// Not thread-safe: one instance per endpoint, used from the endpoint's thread. Allocation-free.
/// </summary>
internal sealed class StatelessResetRateLimiter
{
    private double _available;
    private TimeSpan _last;
    private bool _started;

    public StatelessResetRateLimiter(int ratePerSecond = 100, int burst = 100)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ratePerSecond);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(burst);
        RatePerSecond = ratePerSecond;
        Burst = burst;
    }

    public int RatePerSecond { get; }

    public int Burst { get; }

    /// <summary>Resets refused since construction, for metrics.</summary>
    public long Refused { get; private set; }

    /// <summary>Takes one token if available: true means "send this reset".</summary>
    public bool TryAcquire(TimeSpan now)
    {
        if (!_started)
        {
            _started = true;
            _available = Burst;
            _last = now;
        }
        else if (now > _last)
        {
            _available = Math.Min(Burst, _available + ((now - _last).TotalSeconds * RatePerSecond));
            _last = now;
        }

        // A clock that went backwards refills nothing (and _last keeps the later time).
        if (_available >= 1)
        {
            _available -= 1;
            return true;
        }

        Refused++;
        return false;
    }
}
