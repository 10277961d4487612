using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Packets;

/// <summary>Packet number encoding and decoding, RFC 9000 §17.1 and Appendix A.2/A.3.</summary>
internal static class PacketNumber
{
    /// <summary>RFC 9000 §12.3: packet numbers are in the range 0 to 2^62-1.</summary>
    public const ulong MaxValue = QuicVarInt.MaxValue;

    /// <summary>RFC 9000 §17.1: the truncated packet number is 1 to 4 bytes.</summary>
    public const int MaxEncodedLength = 4;

    /// <summary>
    /// The number of bytes to send <paramref name="packetNumber"/> with. RFC 9000 §17.1: the sender
    /// uses a size able to represent more than twice the range between the largest acknowledged packet
    /// number and the one being sent (Appendix A.2). <paramref name="largestAcknowledged"/> is null
    /// when nothing in this packet number space has been acknowledged yet.
    /// </summary>
    public static int GetEncodedLength(ulong packetNumber, ulong? largestAcknowledged)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(packetNumber, MaxValue);

        // RFC 9000 §A.2: num_unacked counts the new packet too; a caller that re-sends at or below the
        // largest acknowledged number still needs one packet of range.
        ulong unacknowledged = largestAcknowledged is ulong largest
            ? (packetNumber > largest ? packetNumber - largest : 1)
            : packetNumber + 1;

        // RFC 9000 §A.2: min_bits = log2(num_unacked) + 1, i.e. 2^bits >= 2 * num_unacked, so
        // bits = ceil(log2(num_unacked)) + 1.
        int bits = (64 - (int)ulong.LeadingZeroCount(unacknowledged - 1)) + 1;
        int bytes = (bits + 7) / 8;
        if (bytes > MaxEncodedLength)
        {
            throw new InvalidOperationException(
                "More than 2^31 packets are unacknowledged; the packet number cannot be encoded (RFC 9000 §17.1).");
        }

        return bytes;
    }

    /// <summary>Writes the <paramref name="length"/> least significant bytes of the packet number, big-endian.</summary>
    public static void Write(Span<byte> destination, ulong packetNumber, int length)
    {
        ValidateLength(length);
        for (int i = length - 1; i >= 0; i--)
        {
            destination[i] = (byte)packetNumber;
            packetNumber >>= 8;
        }
    }

    /// <summary>Reads a truncated packet number of <paramref name="length"/> bytes (after header protection removal).</summary>
    public static uint ReadTruncated(ReadOnlySpan<byte> source, int length)
    {
        ValidateLength(length);
        uint value = 0;
        for (int i = 0; i < length; i++)
        {
            value = (value << 8) | source[i];
        }

        return value;
    }

    /// <summary>RFC 9000 §17.2/§17.3.1: the two low bits of the unprotected first byte hold the packet number length minus one.</summary>
    public static int GetLengthFromFirstByte(byte unprotectedFirstByte) => (unprotectedFirstByte & 0x03) + 1;

    /// <summary>
    /// Recovers the full packet number from its truncated form, RFC 9000 §A.3: the candidate closest
    /// to the next expected packet number. <paramref name="largestProcessed"/> is null when no packet
    /// in this space has been processed yet.
    /// </summary>
    public static ulong Decode(ulong truncated, int length, ulong? largestProcessed)
    {
        ValidateLength(length);
        ulong expected = largestProcessed is ulong largest ? largest + 1 : 0;
        ulong window = 1UL << (length * 8);
        ulong halfWindow = window / 2;
        ulong mask = window - 1;
        ulong candidate = (expected & ~mask) | (truncated & mask);

        // RFC 9000 §A.3, with the comparisons rearranged so that unsigned arithmetic cannot wrap:
        // candidate <= expected - hwin  <=>  candidate + hwin <= expected.
        if (candidate + halfWindow <= expected && candidate < (1UL << 62) - window)
        {
            return candidate + window;
        }

        if (candidate > expected + halfWindow && candidate >= window)
        {
            return candidate - window;
        }

        return candidate;
    }

    private static void ValidateLength(int length)
    {
        if ((uint)(length - 1) >= MaxEncodedLength)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, "A packet number is 1 to 4 bytes (RFC 9000 §17.1).");
        }
    }
}
