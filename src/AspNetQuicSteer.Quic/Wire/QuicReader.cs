using System.Buffers.Binary;

namespace AspNetQuicSteer.Quic.Wire;

/// <summary>
/// Forward-only reader over untrusted bytes. Every read is bounds-checked and fails with
/// <see cref="QuicProtocolException"/> carrying <see cref="ErrorCode"/> (FRAME_ENCODING_ERROR by
/// default), never with an IndexOutOfRangeException. Allocation-free.
/// </summary>
internal ref struct QuicReader
{
    private readonly ReadOnlySpan<byte> _buffer;
    private int _position;

    public QuicReader(ReadOnlySpan<byte> buffer, TransportErrorCode errorCode = TransportErrorCode.FrameEncodingError)
    {
        _buffer = buffer;
        _position = 0;
        ErrorCode = errorCode;
    }

    /// <summary>The error reported when input ends early or is malformed.</summary>
    public TransportErrorCode ErrorCode { get; set; }

    /// <summary>The frame being read, reported with truncation errors (RFC 9000 §19.19 Frame Type field).</summary>
    public ulong FrameType { get; set; }

    public readonly int Position => _position;

    public readonly int Remaining => _buffer.Length - _position;

    public readonly bool IsEmpty => _position >= _buffer.Length;

    public readonly ReadOnlySpan<byte> RemainingSpan => _buffer[_position..];

    public readonly ReadOnlySpan<byte> Buffer => _buffer;

    public byte ReadByte()
    {
        if (_position >= _buffer.Length) throw Truncated();
        return _buffer[_position++];
    }

    public byte PeekByte()
    {
        if (_position >= _buffer.Length) throw Truncated();
        return _buffer[_position];
    }

    public ushort ReadUInt16()
    {
        ushort value = BinaryPrimitives.ReadUInt16BigEndian(ReadBytes(2));
        return value;
    }

    public uint ReadUInt24()
    {
        ReadOnlySpan<byte> b = ReadBytes(3);
        return (uint)(b[0] << 16 | b[1] << 8 | b[2]);
    }

    public uint ReadUInt32() => BinaryPrimitives.ReadUInt32BigEndian(ReadBytes(4));

    public ulong ReadUInt64() => BinaryPrimitives.ReadUInt64BigEndian(ReadBytes(8));

    /// <summary>RFC 9000 §16 variable-length integer.</summary>
    public ulong ReadVarInt()
    {
        if (!QuicVarInt.TryRead(_buffer[_position..], out ulong value, out int length)) throw Truncated();
        _position += length;
        return value;
    }

    /// <summary>A varint that must fit a non-negative <see cref="int"/> length, and the bytes it announces must be present.</summary>
    public int ReadVarIntLength()
    {
        ulong value = ReadVarInt();
        if (value > (ulong)Remaining) throw Truncated();
        return (int)value;
    }

    public ReadOnlySpan<byte> ReadBytes(int count)
    {
        if ((uint)count > (uint)Remaining) throw Truncated();
        ReadOnlySpan<byte> slice = _buffer.Slice(_position, count);
        _position += count;
        return slice;
    }

    /// <summary>Reads a varint length prefix then that many bytes.</summary>
    public ReadOnlySpan<byte> ReadVarIntPrefixedBytes() => ReadBytes(ReadVarIntLength());

    /// <summary>Reads an 8-bit length prefix then that many bytes (TLS opaque&lt;0..2^8-1&gt;).</summary>
    public ReadOnlySpan<byte> ReadUInt8PrefixedBytes() => ReadBytes(ReadByte());

    /// <summary>Reads a 16-bit length prefix then that many bytes (TLS opaque&lt;0..2^16-1&gt;).</summary>
    public ReadOnlySpan<byte> ReadUInt16PrefixedBytes() => ReadBytes(ReadUInt16());

    /// <summary>Reads a 24-bit length prefix then that many bytes (TLS opaque&lt;0..2^24-1&gt;).</summary>
    public ReadOnlySpan<byte> ReadUInt24PrefixedBytes() => ReadBytes(checked((int)ReadUInt24()));

    public void Skip(int count) => ReadBytes(count);

    private readonly QuicProtocolException Truncated()
        => new(ErrorCode, "Input ended before the encoded structure did.", FrameType);
}
