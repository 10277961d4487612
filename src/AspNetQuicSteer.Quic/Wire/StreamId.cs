namespace AspNetQuicSteer.Quic.Wire;

/// <summary>
/// Stream ID arithmetic, RFC 9000 §2.1. A stream ID is a 62-bit integer whose least significant bit
/// tells who opened the stream (0 client, 1 server) and whose second bit tells its direction
/// (0 bidirectional, 1 unidirectional); the remaining bits are the per-type index.
/// </summary>
internal static class StreamId
{
    /// <summary>RFC 9000 §2.1: stream IDs are varints, so at most 2^62-1.</summary>
    public const ulong MaxValue = QuicVarInt.MaxValue;

    /// <summary>RFC 9000 §4.6: at most 2^60 streams of each type can be opened.</summary>
    public const ulong MaxStreamCount = 1UL << 60;

    private const ulong InitiatorBit = 0x01;
    private const ulong DirectionBit = 0x02;

    public static bool IsClientInitiated(ulong streamId) => (streamId & InitiatorBit) == 0;

    public static bool IsServerInitiated(ulong streamId) => (streamId & InitiatorBit) != 0;

    public static bool IsBidirectional(ulong streamId) => (streamId & DirectionBit) == 0;

    public static bool IsUnidirectional(ulong streamId) => (streamId & DirectionBit) != 0;

    /// <summary>True when the endpoint (server or client) opened the stream itself.</summary>
    public static bool IsLocallyInitiated(ulong streamId, bool localIsServer) => IsServerInitiated(streamId) == localIsServer;

    /// <summary>The 0-based index of the stream among the streams of its type (RFC 9000 §2.1).</summary>
    public static ulong GetIndex(ulong streamId) => streamId >> 2;

    /// <summary>
    /// The stream ID of the <paramref name="index"/>-th stream of a type. The index must be below
    /// <see cref="MaxStreamCount"/>; callers derive it from validated stream limits.
    /// </summary>
    public static ulong FromIndex(ulong index, bool serverInitiated, bool unidirectional)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, MaxStreamCount);
        return (index << 2) | (serverInitiated ? InitiatorBit : 0) | (unidirectional ? DirectionBit : 0);
    }

    /// <summary>
    /// The number of streams of this ID's type that must be allowed for the ID to be usable
    /// (RFC 9000 §4.6: a MAX_STREAMS limit of N permits indexes 0..N-1).
    /// </summary>
    public static ulong GetRequiredStreamCount(ulong streamId) => GetIndex(streamId) + 1;
}
