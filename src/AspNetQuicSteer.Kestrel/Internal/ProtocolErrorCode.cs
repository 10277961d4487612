namespace AspNetQuicSteer.Kestrel.Internal;

/// <summary>The value of an <c>IProtocolErrorCodeFeature.Error</c>: -1 for "not set", else a QUIC application error code.</summary>
internal static class ProtocolErrorCode
{
    /// <summary>RFC 9000 §16: application error codes are varints (at most 2^62-1).</summary>
    public const long Max = (1L << 62) - 1;

    /// <summary>Stores a validated code into <paramref name="field"/> (thread-safe; Kestrel sets it from any thread).</summary>
    public static void Set(ref long field, long value)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(value, -1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(value, Max);
        Interlocked.Exchange(ref field, value);
    }
}
