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

        // Try each prefix size (RFC 9000 §16: 1, 2 or 4 bytes cover 63, 16383, 2^30-1); a shorter prefix can only
        // help when its value range still covers the rest. Plain arithmetic: no span literal, no allocation in any build.
        int best = Math.Max(0, Math.Min(available - 1, 63));
        best = Math.Max(best, Math.Min(available - 2, 16383));
        best = Math.Max(best, Math.Min(available - 4, 1073741823));
        return best;
    }
}
