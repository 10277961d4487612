namespace AspNetQuicSteer.Quic.Recovery.Congestion;

/// <summary>Range checks shared by the congestion controller option classes.</summary>
internal static class CongestionOptionsValidation
{
    /// <summary>Largest configurable initial window in datagrams (a sanity bound, far above RFC 9002 §7.2's 10).</summary>
    public const int MaximumInitialWindowPackets = 1000;

    /// <summary>Largest configurable minimum window in datagrams.</summary>
    public const int MaximumMinimumWindowPackets = 100;

    public static int? InitialWindowPackets(int? value)
    {
        if (value is int packets)
        {
            // RFC 9002 §7.2: the window must allow at least the minimum window of 2 datagrams.
            ArgumentOutOfRangeException.ThrowIfLessThan(packets, CongestionWindows.DefaultMinimumWindowPackets, nameof(InitialWindowPackets));
            ArgumentOutOfRangeException.ThrowIfGreaterThan(packets, MaximumInitialWindowPackets, nameof(InitialWindowPackets));
        }

        return value;
    }

    public static int MinimumWindowPackets(int value)
    {
        // RFC 9002 §7.2: kMinimumWindow is 2 * max_datagram_size; a smaller one would stall loss recovery.
        ArgumentOutOfRangeException.ThrowIfLessThan(value, CongestionWindows.DefaultMinimumWindowPackets, nameof(MinimumWindowPackets));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(value, MaximumMinimumWindowPackets, nameof(MinimumWindowPackets));
        return value;
    }

    public static void Validate(int? initialWindowPackets, int minimumWindowPackets)
    {
        if (initialWindowPackets is int packets && packets < minimumWindowPackets)
        {
            throw new ArgumentException(
                $"InitialWindowPackets ({packets}) is below MinimumWindowPackets ({minimumWindowPackets}).");
        }
    }

    /// <summary>The initial window in bytes for a datagram size: configured, or RFC 9002 §7.2.</summary>
    public static long InitialWindow(int? initialWindowPackets, int minimumWindowPackets, int maxDatagramSize)
    {
        long window = initialWindowPackets is int packets
            ? packets * (long)maxDatagramSize
            : CongestionWindows.InitialWindow(maxDatagramSize);
        return Math.Max(window, minimumWindowPackets * (long)maxDatagramSize);
    }
}
