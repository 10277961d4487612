namespace AspNetQuicSteer.Quic.Frames;

/// <summary>Packetization arithmetic shared by frames that carry a varint-length-prefixed payload.</summary>
internal static class FrameSizing
{
    /// <summary>
    /// The largest n with varint_length(n) + n &lt;= <paramref name="available"/> (RFC 9000 §16), or -1
    /// when not even an empty payload's prefix fits.
    /// </summary>
    public static int MaxPayloadWithLengthPrefix(int available)
    {
        if (available < 1)
        {
            return -1;
        }

        // Try each prefix size; a shorter prefix can only help when its value range still covers the rest.
        int best = 0;
        ReadOnlySpan<int> prefixSizes = [1, 2, 4];
        ReadOnlySpan<int> prefixMaxima = [63, 16383, 1073741823];
        for (int i = 0; i < prefixSizes.Length; i++)
        {
            int candidate = Math.Min(available - prefixSizes[i], prefixMaxima[i]);
            best = Math.Max(best, candidate);
        }

        return best;
    }
}
