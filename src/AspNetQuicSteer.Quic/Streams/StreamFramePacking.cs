using AspNetQuicSteer.Quic.Frames;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Streams;

/// <summary>
/// STREAM frame sizing for the per-packet path. Equals <see cref="StreamFrame.GetMaxDataLength"/> with a
/// Length field, computed with plain arithmetic: FrameSizing's span literals of int go through
/// RuntimeHelpers.CreateSpan, which allocates when the JIT does not optimize (Debug builds).
/// </summary>
internal static class StreamFramePacking
{
    /// <summary>Data bytes a STREAM frame with a Length field can carry in <paramref name="space"/> bytes; -1 when the header does not fit.</summary>
    public static int GetMaxDataLength(ulong streamId, ulong offset, int space)
    {
        int available = space - StreamFrame.GetHeaderLength(streamId, offset, -1);
        if (available < 1)
        {
            return -1;
        }

        // RFC 9000 §16: the largest n with varint_length(n) + n <= available.
        int fit = Math.Min(available - 1, 63);
        fit = Math.Max(fit, Math.Min(available - 2, 16383));
        fit = Math.Max(fit, Math.Min(available - 4, 1073741823));

        // RFC 9000 §19.8: a frame may not end beyond 2^62-1.
        return (int)Math.Min((ulong)fit, QuicVarInt.MaxValue - offset);
    }
}
