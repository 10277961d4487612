namespace AspNetQuicSteer.Quic.Recovery.Congestion;

/// <summary>
/// CUBIC congestion control, RFC 9438, on QUIC's loss recovery (RFC 9002 §7): standard slow start, the cubic window
/// increase with its Reno-friendly, concave and convex regions, multiplicative decrease by beta_cubic = 0.7, fast
/// convergence, persistent congestion, the application-limited rule, and pacing (RFC 9002 §7.7). Windows are kept
/// in bytes; the RFC's segment-based formulas are scaled by max_datagram_size. Allocation-free; time is passed in.
/// </summary>
internal sealed class CubicCongestionController : ICongestionController
{
    /// <summary>RFC 9438 §5.1: C = 0.4 (segments / second³).</summary>
    public const double C = 0.4;

    /// <summary>RFC 9438 §5.1: beta_cubic = 0.7.</summary>
    public const double BetaCubic = 0.7;

    /// <summary>RFC 9438 §4.3: alpha_cubic = 3 * (1 - beta_cubic) / (1 + beta_cubic).</summary>
    public const double AlphaCubic = 3 * (1 - BetaCubic) / (1 + BetaCubic);

    private readonly int? _initialWindowPackets;
    private readonly int _minimumWindowPackets;
    private readonly bool _fastConvergence;
    private readonly bool _pacing;
    private readonly Pacer _pacer;

    private int _maxDatagramSize;
    private long _congestionWindow;
    private long _bytesInFlight;
    private long _slowStartThreshold = long.MaxValue;
    private bool _hasRecoveryStart;
    private TimeSpan _recoveryStartTime;
    private bool _windowTouched;

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
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        CongestionWindows.ValidateMaxDatagramSize(maxDatagramSize);
        _initialWindowPackets = options.InitialWindowPackets;
        _minimumWindowPackets = options.MinimumWindowPackets;
        _fastConvergence = options.FastConvergence;
        _pacing = options.Pacing;
        _maxDatagramSize = maxDatagramSize;

        // RFC 9002 §7.2 (RFC 9438 §4.10 keeps the transport's initial window).
        _congestionWindow = InitialWindow;
        // RFC 9002 §7.7: bursts are limited to the (RFC 9002 §7.2) initial window, whatever window is configured.
        _pacer = new Pacer(now, maxDatagramSize, CongestionWindows.InitialWindow(maxDatagramSize));
    }

    public long CongestionWindow => _congestionWindow;

    public long BytesInFlight => _bytesInFlight;

    public long AvailableWindow => Math.Max(0, _congestionWindow - _bytesInFlight);

    public bool IsApplicationLimited { get; set; }

    /// <summary>ssthresh; <see cref="long.MaxValue"/> until the first congestion event.</summary>
    public long SlowStartThreshold => _slowStartThreshold;

    /// <summary>RFC 9438 §4.10: slow start while cwnd is below ssthresh.</summary>
    public bool InSlowStart => _congestionWindow < _slowStartThreshold;

    /// <summary>RFC 9002 §B.2 kMinimumWindow (2 * max_datagram_size by default).</summary>
    public long MinimumWindow => _minimumWindowPackets * (long)_maxDatagramSize;

    /// <summary>The initial window for the current datagram size (RFC 9002 §7.2).</summary>
    public long InitialWindow => CongestionOptionsValidation.InitialWindow(_initialWindowPackets, _minimumWindowPackets, _maxDatagramSize);

    public int MaxDatagramSize => _maxDatagramSize;

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
        return (C * _maxDatagramSize * offset * offset * offset) + _wMax;
    }

    public void OnPacketSent(TimeSpan now, int bytes)
    {
        // RFC 9438 §5.8: restarting after an idle period (nothing in flight), the idle time is not part of t.
        if (_bytesInFlight == 0 && _epochActive && !_appLimitedActive && _hasLastAck && now > _lastAckTime)
        {
            _epochStart += now - _lastAckTime;
            _lastAckTime = now;
        }

        // RFC 9002 §B.4: bytes_in_flight += sent_bytes.
        _bytesInFlight += bytes;
        _pacer.OnPacketSent(bytes);

        // RFC 9002 §7.8: a full window is not application-limited.
        if (_bytesInFlight >= _congestionWindow) IsApplicationLimited = false;
    }

    public void OnPacketAcknowledged(TimeSpan now, TimeSpan timeSent, int bytes, RttEstimator rtt)
    {
        ArgumentNullException.ThrowIfNull(rtt);

        // RFC 9002 §B.5: remove from bytes_in_flight.
        _bytesInFlight = CongestionWindows.SubtractClamped(_bytesInFlight, bytes);
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

        _windowTouched = true;
        if (_congestionWindow < _slowStartThreshold)
        {
            // RFC 9438 §4.10 / RFC 9002 §7.3.1: slow start grows the window by the acknowledged bytes.
            _congestionWindow = Math.Min(_congestionWindow + bytes, CongestionWindows.MaximumWindow);
            return;
        }

        if (!_epochActive) StartEpoch(now);

        // RFC 9438 §4.2: t is the time since the stage began; RTT is the smoothed round-trip time.
        double t = Math.Max(0, (now - _epochStart).TotalSeconds);
        double rttSeconds = Math.Max(0, rtt.SmoothedRtt.TotalSeconds);
        double cwnd = _congestionWindow;

        // RFC 9438 §4.3 Figure 4: W_est += alpha_cubic * segments_acked / cwnd (in bytes: * max_datagram_size), with
        // alpha_cubic = 1 once W_est has reached cwnd_prior.
        double alpha = _wEst >= _cwndPrior ? 1.0 : AlphaCubic;
        _wEst += alpha * _maxDatagramSize * bytes / cwnd;

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

        _congestionWindow = (long)Math.Min(next, CongestionWindows.MaximumWindow);
    }

    public void OnPacketsLost(TimeSpan now, int lostBytes, TimeSpan newestLostTimeSent, bool persistentCongestion)
    {
        // RFC 9002 §B.8: lost packets leave bytes_in_flight; one congestion event for the newest loss.
        _bytesInFlight = CongestionWindows.SubtractClamped(_bytesInFlight, lostBytes);
        if (lostBytes > 0) OnCongestionEvent(now, newestLostTimeSent);

        if (persistentCongestion)
        {
            // RFC 9002 §7.6.2: collapse to the minimum window and end the recovery period. RFC 9438 §4.8: the next
            // congestion avoidance stage uses K = 0 and W_max (and W_est) = cwnd at its beginning.
            _congestionWindow = MinimumWindow;
            _hasRecoveryStart = false;
            _windowTouched = true;
            _wMaxUndefined = true;
            _epochActive = false;
            _appLimitedActive = false;
            _cwndFraction = 0;
        }
    }

    public void OnPacketsDiscarded(int bytes)
    {
        // RFC 9002 §6.4 / §B.9: discarded packets leave bytes_in_flight without a congestion signal.
        _bytesInFlight = CongestionWindows.SubtractClamped(_bytesInFlight, bytes);
    }

    public void OnCongestionExperienced(TimeSpan now, TimeSpan timeSent)
    {
        // RFC 9002 §7.1 / §B.7, RFC 9438 §4.6: ECN-CE is a congestion event like a loss.
        OnCongestionEvent(now, timeSent);
    }

    public TimeSpan NextSendTime(TimeSpan now, int bytes, RttEstimator rtt)
    {
        ArgumentNullException.ThrowIfNull(rtt);

        // RFC 9002 §7.7: pace at 1.25 * cwnd / smoothed_rtt.
        return _pacing ? _pacer.NextSendTime(now, bytes, _congestionWindow, rtt.SmoothedRtt) : now;
    }

    public void OnMaxDatagramSizeChanged(int maxDatagramSize)
    {
        CongestionWindows.ValidateMaxDatagramSize(maxDatagramSize);
        _maxDatagramSize = maxDatagramSize;
        _pacer.OnMaxDatagramSizeChanged(maxDatagramSize, CongestionWindows.InitialWindow(maxDatagramSize));

        // RFC 9002 §7.2: recalculate the initial window with the new size while it is still in use; afterwards
        // only keep the window at or above the new minimum. K is in segments of the old size: a new congestion
        // avoidance stage (RFC 9438 §4.2) starts with the next acknowledgment.
        _congestionWindow = _windowTouched ? Math.Max(_congestionWindow, MinimumWindow) : InitialWindow;
        _epochActive = false;
        _appLimitedActive = false;
    }

    /// <summary>RFC 9002 §B.6: a packet sent at or before the start of the current recovery period.</summary>
    private bool InCongestionRecovery(TimeSpan timeSent) => _hasRecoveryStart && timeSent <= _recoveryStartTime;

    /// <summary>RFC 9438 §4.2, §4.3, §4.8, §4.10: a congestion avoidance stage begins.</summary>
    private void StartEpoch(TimeSpan now)
    {
        _epochActive = true;
        _epochStart = now;
        _cwndFraction = 0;
        double cwndEpoch = _congestionWindow;

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
            _k = _wMax > cwndEpoch ? Math.Cbrt((_wMax - cwndEpoch) / (C * _maxDatagramSize)) : 0;
        }

        // RFC 9438 §4.3: W_est starts at cwnd_epoch.
        _wEst = cwndEpoch;
    }

    /// <summary>RFC 9438 §4.6, §4.7: multiplicative decrease, at most once per recovery period (RFC 9002 §7.3.2).</summary>
    private void OnCongestionEvent(TimeSpan now, TimeSpan timeSent)
    {
        // RFC 9002 §7.3.2: no reduction for packets sent before the current recovery period began.
        if (InCongestionRecovery(timeSent)) return;

        _hasRecoveryStart = true;
        _recoveryStartTime = now;
        _windowTouched = true;

        double cwnd = _congestionWindow;

        // RFC 9438 §4.7: fast convergence. A window that did not regain the previous W_max releases bandwidth.
        _wMax = _fastConvergence && !_wMaxUndefined && cwnd < _wMax ? cwnd * (1 + BetaCubic) / 2 : cwnd;
        _wMaxUndefined = false;

        // RFC 9438 §4.6: cwnd_prior = cwnd; ssthresh = cwnd * beta_cubic (QUIC uses cwnd, RFC 9438 §4.6 requires the
        // app-limited rule of §5.8 for that, which this controller applies); cwnd = ssthresh, both at least the
        // minimum window (RFC 9002 §7.2).
        _cwndPrior = cwnd;
        long reduced = (long)(cwnd * BetaCubic);
        _slowStartThreshold = Math.Max(reduced, MinimumWindow);
        _congestionWindow = _slowStartThreshold;

        // RFC 9438 §4.2: the next congestion avoidance stage starts with the first acknowledgment after recovery.
        _epochActive = false;
        _appLimitedActive = false;
        _cwndFraction = 0;
    }
}
