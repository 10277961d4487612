namespace AspNetQuicSteer.Quic.Recovery.Congestion;

/// <summary>
/// What every RFC 9002 congestion controller shares: the window and bytes in flight (§B.2), the recovery period
/// that allows one reduction per round trip (§7.3.2), pacing (§7.7), the application-limited rule (§7.8), discarded
/// packets (§6.4), datagram size changes (§7.2) and the persistent-congestion collapse (§7.6.2). Subclasses decide
/// how the window grows on acknowledgments and how it shrinks on a congestion event.
/// </summary>
internal abstract class CongestionControllerBase : ICongestionController
{
    private readonly int? _initialWindowPackets;
    private readonly int _minimumWindowPackets;
    private readonly bool _pacing;
    private readonly Pacer _pacer;
    private long _bytesInFlight;
    private bool _hasRecoveryStart;
    private TimeSpan _recoveryStartTime;

    protected CongestionControllerBase(TimeSpan now, int maxDatagramSize, int? initialWindowPackets, int minimumWindowPackets, bool pacing)
    {
        CongestionWindows.ValidateMaxDatagramSize(maxDatagramSize);
        _initialWindowPackets = initialWindowPackets;
        _minimumWindowPackets = minimumWindowPackets;
        _pacing = pacing;
        DatagramSize = maxDatagramSize;

        // RFC 9002 §7.2: start with the initial window.
        Window = InitialWindow;

        // RFC 9002 §7.7: bursts are limited to the (RFC 9002 §7.2) initial window, whatever window is configured.
        _pacer = new Pacer(now, maxDatagramSize, CongestionWindows.InitialWindow(maxDatagramSize));
    }

    public long CongestionWindow => Window;

    public long BytesInFlight => _bytesInFlight;

    public long AvailableWindow => Math.Max(0, Window - _bytesInFlight);

    public bool IsApplicationLimited { get; set; }

    /// <summary>RFC 9002 §B.2 ssthresh; <see cref="long.MaxValue"/> until the first congestion event.</summary>
    public long SlowStartThreshold => Ssthresh;

    /// <summary>RFC 9002 §7.3.1: the window is below ssthresh.</summary>
    public bool InSlowStart => Window < Ssthresh;

    /// <summary>RFC 9002 §B.2 kMinimumWindow (2 * max_datagram_size by default).</summary>
    public long MinimumWindow => _minimumWindowPackets * (long)DatagramSize;

    /// <summary>The initial window for the current datagram size (RFC 9002 §7.2).</summary>
    public long InitialWindow => CongestionOptionsValidation.InitialWindow(_initialWindowPackets, _minimumWindowPackets, DatagramSize);

    public int MaxDatagramSize => DatagramSize;

    /// <summary>The current max_datagram_size in bytes.</summary>
    protected int DatagramSize { get; private set; }

    /// <summary>The congestion window in bytes.</summary>
    protected long Window { get; set; }

    /// <summary>The slow start threshold in bytes.</summary>
    protected long Ssthresh { get; set; } = long.MaxValue;

    /// <summary>The window changed since it was set to the initial window.</summary>
    protected bool WindowTouched { get; set; }

    public virtual void OnPacketSent(TimeSpan now, int bytes)
    {
        // RFC 9002 §B.4: bytes_in_flight += sent_bytes.
        _bytesInFlight += bytes;
        _pacer.OnPacketSent(bytes);

        // RFC 9002 §7.8: a full window is not application-limited.
        if (_bytesInFlight >= Window) IsApplicationLimited = false;
    }

    public abstract void OnPacketAcknowledged(TimeSpan now, TimeSpan timeSent, int bytes, RttEstimator rtt);

    public abstract void OnPacketsLost(TimeSpan now, int lostBytes, TimeSpan newestLostTimeSent, bool persistentCongestion);

    public void OnPacketsDiscarded(int bytes)
    {
        // RFC 9002 §6.4 / §B.9: discarded packets leave bytes_in_flight without a congestion signal.
        RemoveFromFlight(bytes);
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
        return _pacing ? _pacer.NextSendTime(now, bytes, Window, rtt.SmoothedRtt) : now;
    }

    public virtual void OnMaxDatagramSizeChanged(int maxDatagramSize)
    {
        CongestionWindows.ValidateMaxDatagramSize(maxDatagramSize);
        DatagramSize = maxDatagramSize;
        _pacer.OnMaxDatagramSizeChanged(maxDatagramSize, CongestionWindows.InitialWindow(maxDatagramSize));

        // RFC 9002 §7.2: recalculate the initial window with the new size while it is still in use; afterwards
        // only keep the window at or above the new minimum.
        Window = WindowTouched ? Math.Max(Window, MinimumWindow) : InitialWindow;
    }

    /// <summary>RFC 9002 §B.5 / §B.8: acknowledged or lost packets leave bytes_in_flight.</summary>
    protected void RemoveFromFlight(int bytes) => _bytesInFlight = CongestionWindows.SubtractClamped(_bytesInFlight, bytes);

    /// <summary>RFC 9002 §B.6: a packet sent at or before the start of the current recovery period.</summary>
    protected bool InCongestionRecovery(TimeSpan timeSent) => _hasRecoveryStart && timeSent <= _recoveryStartTime;

    /// <summary>RFC 9002 §7.3.2 / §B.6: a congestion event reduces the window at most once per recovery period.</summary>
    protected void OnCongestionEvent(TimeSpan now, TimeSpan timeSent)
    {
        // RFC 9002 §7.3.2: no reduction for packets sent before the current recovery period began.
        if (InCongestionRecovery(timeSent)) return;

        _hasRecoveryStart = true;
        _recoveryStartTime = now;
        WindowTouched = true;
        ReduceWindow();
    }

    /// <summary>The controller's multiplicative decrease for one congestion event.</summary>
    protected abstract void ReduceWindow();

    /// <summary>RFC 9002 §7.6.2 / §B.8: collapse to the minimum window and end the recovery period.</summary>
    protected void CollapseForPersistentCongestion()
    {
        Window = MinimumWindow;
        _hasRecoveryStart = false;
        WindowTouched = true;
    }
}
