namespace AspNetQuicSteer.Quic.Recovery.Congestion;

/// <summary>Window constants and formulas shared by the congestion controllers (RFC 9002 §7.2, §B.1, §B.2).</summary>
internal static class CongestionWindows
{
    /// <summary>RFC 9000 §14: every QUIC path carries at least 1200-byte UDP payloads.</summary>
    public const int MinimumMaxDatagramSize = 1200;

    /// <summary>RFC 9000 §18.2: max_udp_payload_size is at most 65527.</summary>
    public const int MaximumMaxDatagramSize = 65527;

    /// <summary>RFC 9002 §7.2: the initial window is limited to max(14720, 2 * max_datagram_size) bytes.</summary>
    public const int InitialWindowByteLimit = 14720;

    /// <summary>RFC 9002 §7.2: at most 10 datagrams in the initial window.</summary>
    public const int InitialWindowPacketLimit = 10;

    /// <summary>RFC 9002 §7.2 / §B.2 kMinimumWindow: 2 * max_datagram_size.</summary>
    public const int DefaultMinimumWindowPackets = 2;

    /// <summary>
    /// Upper bound on any congestion window: far above any real bandwidth-delay product (256 TiB), it only keeps
    /// window arithmetic (products with datagram sizes and tick counts) clear of <see cref="long"/> overflow.
    /// </summary>
    public const long MaximumWindow = 1L << 48;

    /// <summary>RFC 9002 §7.2: min(10 * max_datagram_size, max(14720, 2 * max_datagram_size)).</summary>
    public static long InitialWindow(int maxDatagramSize)
        => Math.Min(InitialWindowPacketLimit * (long)maxDatagramSize, Math.Max(InitialWindowByteLimit, 2L * maxDatagramSize));

    /// <summary>Validates a path's max_datagram_size (RFC 9000 §14, §18.2).</summary>
    public static void ValidateMaxDatagramSize(int maxDatagramSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDatagramSize, MinimumMaxDatagramSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxDatagramSize, MaximumMaxDatagramSize);
    }

    /// <summary>Subtracts without going below zero: bytes_in_flight never turns negative, whatever the caller reports.</summary>
    public static long SubtractClamped(long value, long amount) => amount >= value ? 0 : value - amount;
}
