namespace AspNetQuicSteer.Quic.Recovery.Congestion;

/// <summary>
/// NewReno congestion control as specified by RFC 9002 §7 and Appendix B: slow start, congestion avoidance, one
/// reduction per recovery period, persistent congestion, ECN-CE as a congestion event, and pacing (§7.7).
/// Allocation-free per packet; time is passed in.
/// </summary>
internal sealed class NewRenoCongestionController : CongestionControllerBase
{
    /// <summary>RFC 9002 §7.3.2 / §B.1 kLossReductionFactor = 0.5, as a divisor.</summary>
    private const int LossReductionDivisor = 2;


    private long _bytesAckedInAvoidance;

    /// <summary>Creates a controller with RFC 9002 defaults.</summary>
    public NewRenoCongestionController(TimeSpan now, int maxDatagramSize)
        : this(now, maxDatagramSize, new NewRenoCongestionControllerOptions())
    {
    }

    /// <summary>Creates a controller for a path of <paramref name="maxDatagramSize"/> bytes.</summary>
    public NewRenoCongestionController(TimeSpan now, int maxDatagramSize, NewRenoCongestionControllerOptions options)
        : base(now, maxDatagramSize, Validated(options).InitialWindowPackets, options.MinimumWindowPackets, options.Pacing)
    {
    }

    private static NewRenoCongestionControllerOptions Validated(NewRenoCongestionControllerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return options;
    }

    public override void OnPacketAcknowledged(TimeSpan now, TimeSpan timeSent, int bytes, RttEstimator rtt)
    {
        // RFC 9002 §B.5: remove from bytes_in_flight.
        RemoveFromFlight(bytes);

        // RFC 9002 §7.3.2 / §B.5: no increase for packets sent before the recovery period began.
        if (InCongestionRecovery(timeSent)) return;

        // RFC 9002 §7.8 / §B.5: no increase while application- or flow-control-limited.
        if (IsApplicationLimited) return;

        WindowTouched = true;
        if (Window < Ssthresh)
        {
            // RFC 9002 §7.3.1: slow start grows the window by the acknowledged bytes.
            Window = Math.Min(Window + bytes, CongestionWindows.MaximumWindow);
            return;
        }

        // RFC 9002 §7.3.3 / §B.5: congestion avoidance adds max_datagram_size * acked / congestion_window per ack,
        // i.e. one datagram per window acknowledged. Counting acknowledged bytes keeps the fractions the per-ack
        // integer formula would truncate away.
        _bytesAckedInAvoidance += bytes;
        if (_bytesAckedInAvoidance >= Window)
        {
            long windows = _bytesAckedInAvoidance / Window;
            _bytesAckedInAvoidance -= windows * Window;
            Window = Math.Min(Window + (windows * DatagramSize), CongestionWindows.MaximumWindow);
        }
    }

    public override void OnPacketsLost(TimeSpan now, int lostBytes, TimeSpan newestLostTimeSent, bool persistentCongestion)
    {
        // RFC 9002 §B.8: lost packets leave bytes_in_flight; one congestion event for the newest loss.
        RemoveFromFlight(lostBytes);
        if (lostBytes > 0) OnCongestionEvent(now, newestLostTimeSent);

        if (persistentCongestion)
        {
            // RFC 9002 §7.6.2 / §B.8: collapse to the minimum window and end the recovery period.
            CollapseForPersistentCongestion();
            _bytesAckedInAvoidance = 0;
        }
    }

    /// <summary>RFC 9002 §7.3.2 / §B.6: ssthresh = cwnd * kLossReductionFactor; cwnd = max(ssthresh, kMinimumWindow).</summary>
    protected override void ReduceWindow()
    {
        Ssthresh = Window / LossReductionDivisor;
        Window = Math.Max(Ssthresh, MinimumWindow);
        _bytesAckedInAvoidance = 0;
    }
}
