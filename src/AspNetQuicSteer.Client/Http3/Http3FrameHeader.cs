using System.Buffers;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Client.Http3;

/// <summary>
/// The frame header: Type (i), Length (i) (RFC 9114 §7.1). Both are QUIC varints, so a length can never exceed
/// 2^62 - 1 and always fits a <see cref="long"/>.
/// </summary>
internal static class Http3FrameHeader
{
    /// <summary>Longest possible header: two 8-byte varints.</summary>
    public const int MaxLength = 16;

    /// <summary>
    /// Reads a frame header and advances past it. Returns false, consuming nothing, when the reader does not yet
    /// hold the whole header.
    /// </summary>
    public static bool TryRead(ref SequenceReader<byte> reader, out ulong type, out long length)
    {
        type = 0;
        length = 0;
        if (!reader.TryPeek(out byte first))
        {
            return false;
        }

        int typeLength = QuicVarInt.LengthFromFirstByte(first);
        if (!reader.TryPeek(typeLength, out byte second))
        {
            return false;
        }

        int headerLength = typeLength + QuicVarInt.LengthFromFirstByte(second);
        Span<byte> header = stackalloc byte[MaxLength];
        header = header[..headerLength];
        if (!reader.TryCopyTo(header))
        {
            return false;
        }

        TryRead(header, out type, out length, out _);
        reader.Advance(headerLength);
        return true;
    }

    /// <summary>Reads a frame header from a span. Returns false when the span does not yet hold the whole header.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out ulong type, out long length, out int headerLength)
    {
        length = 0;
        headerLength = 0;
        if (!QuicVarInt.TryRead(source, out type, out int typeLength)
            || !QuicVarInt.TryRead(source[typeLength..], out ulong rawLength, out int lengthLength))
        {
            type = 0;
            return false;
        }

        length = (long)rawLength;
        headerLength = typeLength + lengthLength;
        return true;
    }

    /// <summary>Writes a header; <paramref name="destination"/> must hold <see cref="GetLength"/> bytes.</summary>
    public static int Write(Span<byte> destination, ulong type, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (!QuicVarInt.TryWrite(destination, type, out int typeLength)
            || !QuicVarInt.TryWrite(destination[typeLength..], (ulong)length, out int lengthLength))
        {
            throw new ArgumentException("Destination is too small for the frame header.", nameof(destination));
        }

        return typeLength + lengthLength;
    }

    public static int GetLength(ulong type, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return QuicVarInt.GetLength(type) + QuicVarInt.GetLength((ulong)length);
    }
}
