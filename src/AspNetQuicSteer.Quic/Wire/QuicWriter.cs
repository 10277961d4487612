using System.Buffers.Binary;

namespace AspNetQuicSteer.Quic.Wire;

/// <summary>
/// Forward-only writer into a caller-owned span. Writing past the end is a caller bug (the caller sizes
/// buffers from the structures' Length members) and throws <see cref="InvalidOperationException"/>.
/// Allocation-free.
/// </summary>
internal ref struct QuicWriter
{
    private readonly Span<byte> _buffer;
    private int _position;

    public QuicWriter(Span<byte> buffer)
    {
        _buffer = buffer;
        _position = 0;
    }

    public readonly int Position => _position;

    public readonly int Remaining => _buffer.Length - _position;

    public readonly Span<byte> Buffer => _buffer;

    public readonly Span<byte> Written => _buffer[.._position];

    public void WriteByte(byte value) => Reserve(1)[0] = value;

    public void WriteUInt16(ushort value) => BinaryPrimitives.WriteUInt16BigEndian(Reserve(2), value);

    public void WriteUInt24(uint value)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 0xFF_FFFFu);
        Span<byte> b = Reserve(3);
        b[0] = (byte)(value >> 16);
        b[1] = (byte)(value >> 8);
        b[2] = (byte)value;
    }

    public void WriteUInt32(uint value) => BinaryPrimitives.WriteUInt32BigEndian(Reserve(4), value);

    public void WriteUInt64(ulong value) => BinaryPrimitives.WriteUInt64BigEndian(Reserve(8), value);

    /// <summary>RFC 9000 §16, minimal length.</summary>
    public void WriteVarInt(ulong value) => WriteVarInt(value, QuicVarInt.GetLength(value));

    /// <summary>RFC 9000 §16 with a fixed length (1, 2, 4 or 8).</summary>
    public void WriteVarInt(ulong value, int length)
    {
        QuicVarInt.TryWrite(Reserve(length), value, length, out _);
    }

    public void WriteBytes(scoped ReadOnlySpan<byte> bytes) => bytes.CopyTo(Reserve(bytes.Length));

    public void WriteVarIntPrefixedBytes(scoped ReadOnlySpan<byte> bytes)
    {
        WriteVarInt((ulong)bytes.Length);
        WriteBytes(bytes);
    }

    /// <summary>Advances over <paramref name="count"/> bytes and returns them for the caller to fill.</summary>
    public Span<byte> Reserve(int count)
    {
        if ((uint)count > (uint)Remaining)
        {
            throw new InvalidOperationException("Destination buffer too small for the encoded structure.");
        }

        Span<byte> slice = _buffer.Slice(_position, count);
        _position += count;
        return slice;
    }
}
