using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Frames;

/// <summary>
/// PADDING (RFC 9000 §19.1). A run of consecutive padding bytes is handled as one frame so that a
/// 1200-byte padded Initial costs one call, not one per byte.
/// </summary>
internal readonly struct PaddingFrame
{
    public PaddingFrame(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        Length = length;
    }

    /// <summary>Number of PADDING bytes (each byte is one frame of type 0x00).</summary>
    public int Length { get; }

    public static PaddingFrame Parse(scoped ref QuicReader reader, ulong frameType)
    {
        int count = 1;
        ReadOnlySpan<byte> rest = reader.RemainingSpan;
        int run = rest.IndexOfAnyExcept((byte)0);
        run = run < 0 ? rest.Length : run;
        reader.Skip(run);
        return new PaddingFrame(count + run);
    }

    public void Write(ref QuicWriter writer) => writer.Reserve(Length).Clear();

    public int GetLength() => Length;
}
