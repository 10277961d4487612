namespace AspNetQuicSteer.Quic.Recovery.Congestion;

/// <summary>Settings of <see cref="NewRenoCongestionController"/>; validated when set and when a factory takes them.</summary>
internal sealed class NewRenoCongestionControllerOptions
{
    private int? _initialWindowPackets;
    private int _minimumWindowPackets = CongestionWindows.DefaultMinimumWindowPackets;

    /// <summary>
    /// Initial window in datagrams; <see langword="null"/> (the default) uses RFC 9002 §7.2,
    /// min(10 * max_datagram_size, max(14720, 2 * max_datagram_size)).
    /// </summary>
    public int? InitialWindowPackets
    {
        get => _initialWindowPackets;
        init => _initialWindowPackets = CongestionOptionsValidation.InitialWindowPackets(value);
    }

    /// <summary>Minimum window in datagrams; RFC 9002 §7.2 recommends (and the default is) 2.</summary>
    public int MinimumWindowPackets
    {
        get => _minimumWindowPackets;
        init => _minimumWindowPackets = CongestionOptionsValidation.MinimumWindowPackets(value);
    }

    /// <summary>Pace packets (RFC 9002 §7.7); on by default. Off, <c>NextSendTime</c> always answers <c>now</c>.</summary>
    public bool Pacing { get; init; } = true;

    /// <summary>Cross-property checks: the initial window is not below the minimum window.</summary>
    public void Validate() => CongestionOptionsValidation.Validate(_initialWindowPackets, _minimumWindowPackets);
}
