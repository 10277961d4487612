namespace AspNetQuicSteer.Client.Http3;

/// <summary>Prefixed integers (RFC 7541 §5.1, used unmodified by RFC 9204 §4.1.1).</summary>
internal static class QpackInteger
{
    /// <summary>RFC 9204 §4.1.1: decoders must handle up to 62 bits; anything larger is refused.</summary>
    public const ulong MaxValue = (1UL << 62) - 1;

    /// <summary>Longest encoding of a value up to <see cref="MaxValue"/>: the prefix byte and nine 7-bit groups.</summary>
    public const int MaxLength = 10;

    /// <summary>
    /// Decodes an integer whose <paramref name="prefixBits"/> (1..8) low bits start <paramref name="source"/>[0];
    /// the bits above the prefix are ignored. Returns false when the input ends first. RFC 9204 §2.1.2/§4.1.1: a
    /// value over 62 bits throws <paramref name="overflowError"/> (the error of the stream being parsed).
    /// </summary>
    public static bool TryDecode(
        ReadOnlySpan<byte> source,
        int prefixBits,
        out ulong value,
        out int consumed,
        Http3ErrorCode overflowError = Http3ErrorCode.QpackDecompressionFailed)
    {
        value = 0;
        consumed = 0;
        if (source.IsEmpty)
        {
            return false;
        }

        uint prefixMax = (1u << prefixBits) - 1;
        ulong result = source[0] & prefixMax;
        if (result < prefixMax)
        {
            value = result;
            consumed = 1;
            return true;
        }

        for (int i = 1, shift = 0; i < source.Length; i++, shift += 7)
        {
            // Nine continuation bytes already carry 63 bits; a tenth can only be overflow or padding.
            if (i == MaxLength)
            {
                throw Overflow(overflowError);
            }

            byte b = source[i];

            // No wrap-around: result < 2^62 and the addend < 2^63 (shift ≤ 56).
            result += (ulong)(b & 0x7f) << shift;
            if (result > MaxValue)
            {
                throw Overflow(overflowError);
            }

            if ((b & 0x80) == 0)
            {
                value = result;
                consumed = i + 1;
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Encodes <paramref name="value"/> with a <paramref name="prefixBits"/> (1..8) prefix; <paramref name="firstByteFlags"/>
    /// supplies the bits above the prefix. Returns the bytes written, or -1 when <paramref name="destination"/> is too short.
    /// </summary>
    public static int Encode(Span<byte> destination, byte firstByteFlags, int prefixBits, ulong value)
    {
        int length = GetLength(prefixBits, value);
        if (destination.Length < length)
        {
            return -1;
        }

        uint prefixMax = (1u << prefixBits) - 1;
        byte flags = (byte)(firstByteFlags & ~prefixMax);
        if (value < prefixMax)
        {
            destination[0] = (byte)(flags | (byte)value);
            return 1;
        }

        destination[0] = (byte)(flags | prefixMax);
        value -= prefixMax;
        int i = 1;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[i++] = (byte)value;
        return i;
    }

    /// <summary>Length of the encoding of <paramref name="value"/> with a <paramref name="prefixBits"/> prefix.</summary>
    public static int GetLength(int prefixBits, ulong value)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(prefixBits, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(prefixBits, 8);
        ulong prefixMax = (1UL << prefixBits) - 1;
        if (value < prefixMax)
        {
            return 1;
        }

        value -= prefixMax;
        int length = 2;
        while (value >= 0x80)
        {
            value >>= 7;
            length++;
        }

        return length;
    }

    private static Http3ProtocolViolationException Overflow(Http3ErrorCode error)
        => new(error, "QPACK integer exceeds 62 bits.");
}
