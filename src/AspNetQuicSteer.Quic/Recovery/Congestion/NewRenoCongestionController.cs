namespace AspNetQuicSteer.Quic.Recovery.Congestion;

/// <summary>
/// NewReno congestion control as specified by RFC 9002 §7 and Appendix B: slow start, congestion avoidance, one
/// reduction per recovery period, persistent congestion, ECN-CE as a congestion event, and pacing (§7.7).
/// Allocation-free per packet; time is passed in.
/// </summary>
internal sealed class NewRenoCongestionController : ICongestionController
{
    /// <summary>RFC 9002 §7.3.2 / §B.1 kLossReductionFactor = 0.5, as a divisor.</summary>
    private const int LossReductionDivisor = 2;

    private readonly int? _initialWindowPackets;
    private readonly int _minimumWindowPackets;
    private readonly bool _pacing;
    private readonly Pacer _pacer;

    private int _maxDatagramSize;
    private long _congestionWindow;
    private long _bytesInFlight;
    private long _slowStartThreshold = long.MaxValue;
    private long _bytesAckedInAvoidance;
    private bool _hasRecoveryStart;
    private TimeSpan _recoveryStartTime;
    private bool _windowTouched;

    /// <summary>Creates a controller with RFC 9002 defaults.</summary>
    public NewRenoCongestionController(TimeSpan now, int maxDatagramSize)
        : this(now, maxDatagramSize, new NewRenoCongestionControllerOptions())
    {
    }

    /// <summary>Creates a controller for a path of <paramref name="maxDatagramSize"/> bytes.</summary>
    public NewRenoCongestionController(TimeSpan now, int maxDatagramSize, NewRenoCongestionControllerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        CongestionWindows.ValidateMaxDatagramSize(maxDatagramSize);
        _initialWindowPackets = options.InitialWindowPackets;
        _minimumWindowPackets = options.MinimumWindowPackets;
        _pacing = options.Pacing;
        _maxDatagramSize = maxDatagramSize;

        // RFC 9002 §7.2: start with the initial window.
        _congestionWindow = InitialWindow;
        // RFC 9002 §7.7: bursts are limited to the (RFC 9002 §7.2) initial window, whatever window is configured.
        _pacer = new Pacer(now, maxDatagramSize, CongestionWindows.InitialWindow(maxDatagramSize));
    }

    public long CongestionWindow => _congestionWindow;

    public long BytesInFlight => _bytesInFlight;

    public long AvailableWindow => Math.Max(0, _congestionWindow - _bytesInFlight);

    public bool IsApplicationLimited { get; set; }

    /// <summary>RFC 9002 §B.2 ssthresh; <see cref="long.MaxValue"/> until the first congestion event.</summary>
    public long SlowStartThreshold => _slowStartThreshold;

    /// <summary>RFC 9002 §7.3.1: the window is below ssthresh.</summary>
    public bool InSlowStart => _congestionWindow < _slowStartThreshold;

    /// <summary>RFC 9002 §B.2 kMinimumWindow (2 * max_datagram_size by default).</summary>
    public long MinimumWindow => _minimumWindowPackets * (long)_maxDatagramSize;

    /// <summary>The initial window for the current datagram size (RFC 9002 §7.2).</summary>
    public long InitialWindow => CongestionOptionsValidation.InitialWindow(_initialWindowPackets, _minimumWindowPackets, _maxDatagramSize);

    public int MaxDatagramSize => _maxDatagramSize;

    public void OnPacketSent(TimeSpan now, int bytes)
    {
        // RFC 9002 §B.4: bytes_in_flight += sent_bytes.
        _bytesInFlight += bytes;
        _pacer.OnPacketSent(bytes);

        // RFC 9002 §7.8: a full window is not application-limited.
        if (_bytesInFlight >= _congestionWindow) IsApplicationLimited = false;
    }

    public void OnPacketAcknowledged(TimeSpan now, TimeSpan timeSent, int bytes, RttEstimator rtt)
    {
        // RFC 9002 §B.5: remove from bytes_in_flight.
        _bytesInFlight = CongestionWindows.SubtractClamped(_bytesInFlight, bytes);

        // RFC 9002 §7.3.2 / §B.5: no increase for packets sent before the recovery period began.
        if (InCongestionRecovery(timeSent)) return;

        // RFC 9002 §7.8 / §B.5: no increase while application- or flow-control-limited.
        if (IsApplicationLimited) return;

        _windowTouched = true;
        if (_congestionWindow < _slowStartThreshold)
        {
            // RFC 9002 §7.3.1: slow start grows the window by the acknowledged bytes.
            _congestionWindow = Math.Min(_congestionWindow + bytes, CongestionWindows.MaximumWindow);
            return;
        }

        // RFC 9002 §7.3.3 / §B.5: congestion avoidance adds max_datagram_size * acked / congestion_window per ack,
        // i.e. one datagram per window acknowledged. Counting acknowledged bytes keeps the fractions the per-ack
        // integer formula would truncate away.
        _bytesAckedInAvoidance += bytes;
        if (_bytesAckedInAvoidance >= _congestionWindow)
        {
            long windows = _bytesAckedInAvoidance / _congestionWindow;
            _bytesAckedInAvoidance -= windows * _congestionWindow;
            _congestionWindow = Math.Min(_congestionWindow + (windows * _maxDatagramSize), CongestionWindows.MaximumWindow);
        }
    }

    public void OnPacketsLost(TimeSpan now, int lostBytes, TimeSpan newestLostTimeSent, bool persistentCongestion)
    {
        // RFC 9002 §B.8: lost packets leave bytes_in_flight; one congestion event for the newest loss.
        _bytesInFlight = CongestionWindows.SubtractClamped(_bytesInFlight, lostBytes);
        if (lostBytes > 0) OnCongestionEvent(now, newestLostTimeSent);

        if (persistentCongestion)
        {
            // RFC 9002 §7.6.2 / §B.8: collapse to the minimum window and end the recovery period.
            _congestionWindow = MinimumWindow;
            _bytesAckedInAvoidance = 0;
            _hasRecoveryStart = false;
            _windowTouched = true;
        }
    }

    public void OnPacketsDiscarded(int bytes)
    {
        // RFC 9002 §6.4 / §B.9: discarded packets leave bytes_in_flight without a congestion signal.
        _bytesInFlight = CongestionWindows.SubtractClamped(_bytesInFlight, bytes);
    }

    public void OnCongestionExperienced(TimeSpan now, TimeSpan timeSent)
    {
        // RFC 9002 §7.1 / §B.7: an increased ECN-CE count is a congestion event for the largest acknowledged packet.
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
        // only keep the window at or above the new minimum.
        _congestionWindow = _windowTouched ? Math.Max(_congestionWindow, MinimumWindow) : InitialWindow;
    }

    /// <summary>RFC 9002 §B.6: a packet sent at or before the start of the current recovery period.</summary>
    private bool InCongestionRecovery(TimeSpan timeSent) => _hasRecoveryStart && timeSent <= _recoveryStartTime;

    /// <summary>RFC 9002 §7.3.2 / §B.6: halve the window, at most once per recovery period.</summary>
    private void OnCongestionEvent(TimeSpan now, TimeSpan timeSent)
    {
        // RFC 9002 §7.3.2: no reduction for packets sent before the current recovery period began.
        if (InCongestionRecovery(timeSent)) return;

        _hasRecoveryStart = true;
        _recoveryStartTime = now;
        _windowTouched = true;

        // RFC 9002 §7.3.2 / §B.6: ssthresh = cwnd * kLossReductionFactor; cwnd = max(ssthresh, kMinimumWindow).
        _slowStartThreshold = _congestionWindow / LossReductionDivisor;
        _congestionWindow = Math.Max(_slowStartThreshold, MinimumWindow);
        _bytesAckedInAvoidance = 0;
    }
}
