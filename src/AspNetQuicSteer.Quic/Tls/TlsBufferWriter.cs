using System.Buffers.Binary;

namespace AspNetQuicSteer.Quic.Tls;

/// <summary>
/// Growable big-endian writer for building handshake messages (our own output, so sizes are trusted).
/// Length-prefixed vectors (RFC 8446 §3.4) are written by reserving the prefix and patching it afterwards.
/// </summary>
internal sealed class TlsBufferWriter
{
    private byte[] _buffer;
    private int _length;

    public TlsBufferWriter(int initialCapacity = 256)
    {
        _buffer = new byte[initialCapacity];
    }

    public int Length => _length;

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _length);

    public byte[] ToArray() => _buffer.AsSpan(0, _length).ToArray();

    public void WriteByte(byte value) => Grow(1)[0] = value;

    public void WriteUInt16(ushort value) => BinaryPrimitives.WriteUInt16BigEndian(Grow(2), value);

    public void WriteUInt24(int value)
    {
        if ((uint)value > 0xFF_FFFF)
        {
            throw new InvalidOperationException("24-bit value out of range.");
        }

        Span<byte> b = Grow(3);
        b[0] = (byte)(value >> 16);
        b[1] = (byte)(value >> 8);
        b[2] = (byte)value;
    }

    public void WriteUInt32(uint value) => BinaryPrimitives.WriteUInt32BigEndian(Grow(4), value);

    public void WriteBytes(scoped ReadOnlySpan<byte> bytes) => bytes.CopyTo(Grow(bytes.Length));

    /// <summary>Reserves a 1, 2 or 3 byte length prefix; returns the marker for <see cref="EndVector"/>.</summary>
    public int BeginVector(int prefixLength)
    {
        Grow(prefixLength);
        return _length;
    }

    /// <summary>Patches the length prefix reserved by <see cref="BeginVector"/>.</summary>
    public void EndVector(int marker, int prefixLength)
    {
        int length = _length - marker;
        int max = prefixLength switch { 1 => 0xFF, 2 => 0xFFFF, 3 => 0xFF_FFFF, _ => throw new ArgumentOutOfRangeException(nameof(prefixLength)) };
        if (length > max)
        {
            throw new InvalidOperationException("TLS vector exceeds its length prefix.");
        }

        Span<byte> prefix = _buffer.AsSpan(marker - prefixLength, prefixLength);
        for (int i = prefixLength - 1; i >= 0; i--)
        {
            prefix[i] = (byte)length;
            length >>= 8;
        }
    }

    public void WriteVector8(scoped ReadOnlySpan<byte> bytes)
    {
        int m = BeginVector(1);
        WriteBytes(bytes);
        EndVector(m, 1);
    }

    public void WriteVector16(scoped ReadOnlySpan<byte> bytes)
    {
        int m = BeginVector(2);
        WriteBytes(bytes);
        EndVector(m, 2);
    }

    public void WriteVector24(scoped ReadOnlySpan<byte> bytes)
    {
        int m = BeginVector(3);
        WriteBytes(bytes);
        EndVector(m, 3);
    }

    /// <summary>Starts a handshake message: msg_type and a 24-bit length patched by <see cref="EndMessage"/> (RFC 8446 §4).</summary>
    public int BeginMessage(TlsHandshakeType type)
    {
        WriteByte((byte)type);
        return BeginVector(3);
    }

    public void EndMessage(int marker) => EndVector(marker, 3);

    /// <summary>Starts an extension: type and a 16-bit extension_data length (RFC 8446 §4.2).</summary>
    public int BeginExtension(TlsExtensionType type)
    {
        WriteUInt16((ushort)type);
        return BeginVector(2);
    }

    public void EndExtension(int marker) => EndVector(marker, 2);

    private Span<byte> Grow(int count)
    {
        if (_buffer.Length - _length < count)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + count));
        }

        Span<byte> span = _buffer.AsSpan(_length, count);
        _length += count;
        return span;
    }
}
