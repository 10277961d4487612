namespace AspNetQuicSteer.Quic.Recovery.Congestion;

/// <summary>
/// CUBIC congestion control, RFC 9438, on QUIC's loss recovery (RFC 9002 §7): standard slow start, the cubic window
/// increase with its Reno-friendly, concave and convex regions, multiplicative decrease by beta_cubic = 0.7, fast
/// convergence, persistent congestion, the application-limited rule, and pacing (RFC 9002 §7.7). Windows are kept
/// in bytes; the RFC's segment-based formulas are scaled by max_datagram_size. Allocation-free; time is passed in.
/// </summary>
internal sealed class CubicCongestionController : CongestionControllerBase
{
    /// <summary>RFC 9438 §5.1: C = 0.4 (segments / second³).</summary>
    public const double C = 0.4;

    /// <summary>RFC 9438 §5.1: beta_cubic = 0.7.</summary>
    public const double BetaCubic = 0.7;

    /// <summary>RFC 9438 §4.3: alpha_cubic = 3 * (1 - beta_cubic) / (1 + beta_cubic).</summary>
    public const double AlphaCubic = 3 * (1 - BetaCubic) / (1 + BetaCubic);

    private readonly bool _fastConvergence;

    // RFC 9438 §4.1.2 state, in bytes and seconds.
    private double _wMax;
    private bool _wMaxUndefined = true;
    private double _cwndPrior;
    private double _k;
    private double _wEst;
    private bool _epochActive;
    private TimeSpan _epochStart;
    private double _cwndFraction;

    // RFC 9438 §5.8: periods without window growth are excluded from t.
    private bool _appLimitedActive;
    private TimeSpan _appLimitedSince;
    private bool _hasLastAck;
    private TimeSpan _lastAckTime;

    /// <summary>Creates a controller with RFC 9002 / RFC 9438 defaults.</summary>
    public CubicCongestionController(TimeSpan now, int maxDatagramSize)
        : this(now, maxDatagramSize, new CubicCongestionControllerOptions())
    {
    }

    /// <summary>Creates a controller for a path of <paramref name="maxDatagramSize"/> bytes.</summary>
    public CubicCongestionController(TimeSpan now, int maxDatagramSize, CubicCongestionControllerOptions options)
        : base(now, maxDatagramSize, Validated(options).InitialWindowPackets, options.MinimumWindowPackets, options.Pacing)
    {
        // RFC 9438 §4.10 keeps the transport's initial window (RFC 9002 §7.2), set by the base.
        _fastConvergence = options.FastConvergence;
    }

    private static CubicCongestionControllerOptions Validated(CubicCongestionControllerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return options;
    }

    /// <summary>RFC 9438 W_max in bytes (0 until defined by a congestion event or the first avoidance stage).</summary>
    public double WMax => _wMax;

    /// <summary>RFC 9438 cwnd_prior in bytes: the window before the most recent reduction.</summary>
    public double CwndPrior => _cwndPrior;

    /// <summary>RFC 9438 §4.2 K in seconds for the current congestion avoidance stage.</summary>
    public double K => _k;

    /// <summary>RFC 9438 §4.3 W_est in bytes for the current congestion avoidance stage.</summary>
    public double WEst => _wEst;

    /// <summary>Whether a congestion avoidance stage (epoch) is running.</summary>
    public bool EpochActive => _epochActive;

    /// <summary>RFC 9438 §4.2 t_epoch: start of the current stage, shifted by excluded application-limited time (§5.8).</summary>
    public TimeSpan EpochStart => _epochStart;

    /// <summary>RFC 9438 §4.2 Figure 1: W_cubic(t) = C * (t - K)³ + W_max, in bytes, t in seconds since t_epoch.</summary>
    public double WCubic(double t)
    {
        double offset = t - _k;
        return (C * DatagramSize * offset * offset * offset) + _wMax;
    }

    public override void OnPacketSent(TimeSpan now, int bytes)
    {
        // RFC 9438 §5.8: restarting after an idle period (nothing in flight), the idle time is not part of t.
        if (BytesInFlight == 0 && _epochActive && !_appLimitedActive && _hasLastAck && now > _lastAckTime)
        {
            _epochStart += now - _lastAckTime;
            _lastAckTime = now;
        }

        base.OnPacketSent(now, bytes);
    }

    public override void OnPacketAcknowledged(TimeSpan now, TimeSpan timeSent, int bytes, RttEstimator rtt)
    {
        ArgumentNullException.ThrowIfNull(rtt);

        // RFC 9002 §B.5: remove from bytes_in_flight.
        RemoveFromFlight(bytes);
        _hasLastAck = true;
        _lastAckTime = now;

        // RFC 9002 §7.3.2: no increase for packets sent before the recovery period began.
        if (InCongestionRecovery(timeSent)) return;

        // RFC 9438 §5.8 / RFC 9002 §7.8: no growth while application-limited, and that time is not part of t.
        if (IsApplicationLimited)
        {
            if (_epochActive && !_appLimitedActive)
            {
                _appLimitedActive = true;
                _appLimitedSince = now;
            }

            return;
        }

        if (_appLimitedActive)
        {
            _appLimitedActive = false;
            if (_epochActive && now > _appLimitedSince) _epochStart += now - _appLimitedSince;
        }

        WindowTouched = true;
        if (Window < Ssthresh)
        {
            // RFC 9438 §4.10 / RFC 9002 §7.3.1: slow start grows the window by the acknowledged bytes.
            Window = Math.Min(Window + bytes, CongestionWindows.MaximumWindow);
            return;
        }

        if (!_epochActive) StartEpoch(now);

        // RFC 9438 §4.2: t is the time since the stage began; RTT is the smoothed round-trip time.
        double t = Math.Max(0, (now - _epochStart).TotalSeconds);
        double rttSeconds = Math.Max(0, rtt.SmoothedRtt.TotalSeconds);
        double cwnd = Window;

        // RFC 9438 §4.3 Figure 4: W_est += alpha_cubic * segments_acked / cwnd (in bytes: * max_datagram_size), with
        // alpha_cubic = 1 once W_est has reached cwnd_prior.
        double alpha = _wEst >= _cwndPrior ? 1.0 : AlphaCubic;
        _wEst += alpha * DatagramSize * bytes / cwnd;

        double next;
        if (WCubic(t) < _wEst)
        {
            // RFC 9438 §4.3: Reno-friendly region, cwnd = W_est (an acknowledgment never shrinks the window).
            next = Math.Max(cwnd, _wEst);
        }
        else
        {
            // RFC 9438 §4.2: target = W_cubic(t + RTT) clamped to [cwnd, 1.5 * cwnd]; RFC 9438 §4.4 (concave,
            // cwnd < W_max) and §4.5 (convex, cwnd >= W_max) both add (target - cwnd) / cwnd per acknowledged segment.
            double target = Math.Clamp(WCubic(t + rttSeconds), cwnd, 1.5 * cwnd);
            _cwndFraction += (target - cwnd) * bytes / cwnd;
            double whole = Math.Floor(_cwndFraction);
            _cwndFraction -= whole;
            next = cwnd + whole;
        }

        Window = (long)Math.Min(next, CongestionWindows.MaximumWindow);
    }

    public override void OnPacketsLost(TimeSpan now, int lostBytes, TimeSpan newestLostTimeSent, bool persistentCongestion)
    {
        // RFC 9002 §B.8: lost packets leave bytes_in_flight; one congestion event for the newest loss.
        RemoveFromFlight(lostBytes);
        if (lostBytes > 0) OnCongestionEvent(now, newestLostTimeSent);

        if (persistentCongestion)
        {
            // RFC 9002 §7.6.2: collapse to the minimum window and end the recovery period. RFC 9438 §4.8: the next
            // congestion avoidance stage uses K = 0 and W_max (and W_est) = cwnd at its beginning.
            CollapseForPersistentCongestion();
            _wMaxUndefined = true;
            _epochActive = false;
            _appLimitedActive = false;
            _cwndFraction = 0;
        }
    }

    public override void OnMaxDatagramSizeChanged(int maxDatagramSize)
    {
        base.OnMaxDatagramSizeChanged(maxDatagramSize);

        // K is in segments of the old size: a new congestion avoidance stage (RFC 9438 §4.2) starts with the next
        // acknowledgment.
        _epochActive = false;
        _appLimitedActive = false;
    }

    /// <summary>RFC 9438 §4.2, §4.3, §4.8, §4.10: a congestion avoidance stage begins.</summary>
    private void StartEpoch(TimeSpan now)
    {
        _epochActive = true;
        _epochStart = now;
        _cwndFraction = 0;
        double cwndEpoch = Window;

        if (_wMaxUndefined)
        {
            // RFC 9438 §4.8 (after persistent congestion) and §4.10 (slow start ended without a congestion event):
            // K = 0, W_max = cwnd_prior = cwnd at the beginning of the stage.
            _wMax = cwndEpoch;
            _cwndPrior = cwndEpoch;
            _wMaxUndefined = false;
            _k = 0;
        }
        else
        {
            // RFC 9438 §4.2 Figure 2: K = cbrt((W_max - cwnd_epoch) / C), 0 when cwnd_epoch exceeds W_max.
            _k = _wMax > cwndEpoch ? Math.Cbrt((_wMax - cwndEpoch) / (C * DatagramSize)) : 0;
        }

        // RFC 9438 §4.3: W_est starts at cwnd_epoch.
        _wEst = cwndEpoch;
    }

    /// <summary>RFC 9438 §4.6, §4.7: multiplicative decrease (the base allows one per recovery period, RFC 9002 §7.3.2).</summary>
    protected override void ReduceWindow()
    {
        double cwnd = Window;

        // RFC 9438 §4.7: fast convergence. A window that did not regain the previous W_max releases bandwidth.
        _wMax = _fastConvergence && !_wMaxUndefined && cwnd < _wMax ? cwnd * (1 + BetaCubic) / 2 : cwnd;
        _wMaxUndefined = false;

        // RFC 9438 §4.6: cwnd_prior = cwnd; ssthresh = cwnd * beta_cubic (QUIC uses cwnd, RFC 9438 §4.6 requires the
        // app-limited rule of §5.8 for that, which this controller applies); cwnd = ssthresh, both at least the
        // minimum window (RFC 9002 §7.2).
        _cwndPrior = cwnd;
        long reduced = (long)(cwnd * BetaCubic);
        Ssthresh = Math.Max(reduced, MinimumWindow);
        Window = Ssthresh;

        // RFC 9438 §4.2: the next congestion avoidance stage starts with the first acknowledgment after recovery.
        _epochActive = false;
        _appLimitedActive = false;
        _cwndFraction = 0;
    }
}
