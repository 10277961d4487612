using System.Buffers.Binary;
using System.Text;

namespace AspNetQuicSteer.Steering.Coordination;

/// <summary>
/// Bounds-checked reader over one frame's payload. Every failure is a <see cref="CoordinatorProtocolException"/>
/// naming the field, so a malformed frame can never surface as an IndexOutOfRange or a decoder exception.
/// All integers are big-endian (network order).
/// </summary>
internal ref struct FrameReader
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly ReadOnlySpan<byte> _payload;
    private readonly CoordinatorMessageType _type;
    private int _position;

    public FrameReader(ReadOnlySpan<byte> payload, CoordinatorMessageType type)
    {
        _payload = payload;
        _type = type;
    }

    public byte ReadByte(string field) => Take(1, field)[0];

    public ushort ReadUInt16(string field) => BinaryPrimitives.ReadUInt16BigEndian(Take(2, field));

    public uint ReadUInt32(string field) => BinaryPrimitives.ReadUInt32BigEndian(Take(4, field));

    public ulong ReadUInt64(string field) => BinaryPrimitives.ReadUInt64BigEndian(Take(8, field));

    /// <summary>A non-negative millisecond count as a <see cref="TimeSpan"/>.</summary>
    public TimeSpan ReadMilliseconds(string field)
    {
        ulong value = ReadUInt64(field);
        if (value > (ulong)(TimeSpan.MaxValue.Ticks / TimeSpan.TicksPerMillisecond))
        {
            throw Malformed($"{field} {value} ms is out of range");
        }

        return TimeSpan.FromMilliseconds((long)value);
    }

    /// <summary>A generation ID that must be present (1..255).</summary>
    public GenerationId ReadGeneration(string field)
    {
        byte value = ReadByte(field);
        return value == 0 ? throw Malformed($"{field} is 0; generation IDs are 1..255") : new GenerationId(value);
    }

    /// <summary>A generation ID where 0 means none.</summary>
    public GenerationId? ReadOptionalGeneration(string field)
    {
        byte value = ReadByte(field);
        return value == 0 ? null : new GenerationId(value);
    }

    public ReadOnlySpan<byte> ReadBytes(int length, string field) => Take(length, field);

    public string ReadUtf8(int length, int maxLength, string field)
    {
        if (length > maxLength)
        {
            throw Malformed($"{field} is {length} bytes; at most {maxLength} allowed");
        }

        ReadOnlySpan<byte> bytes = Take(length, field);
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new CoordinatorProtocolException($"{_type}: {field} is not valid UTF-8", e);
        }
    }

    public readonly void EnsureEnd()
    {
        if (_position != _payload.Length)
        {
            throw Malformed($"{_payload.Length - _position} trailing bytes after the payload");
        }
    }

    public readonly CoordinatorProtocolException Malformed(string detail)
        => new(CoordinatorErrorCode.MalformedFrame, $"{_type}: {detail}");

    private ReadOnlySpan<byte> Take(int length, string field)
    {
        if (length < 0 || _payload.Length - _position < length)
        {
            throw Malformed($"payload ends inside {field} (needs {length} bytes at offset {_position}, payload is {_payload.Length})");
        }

        ReadOnlySpan<byte> slice = _payload.Slice(_position, length);
        _position += length;
        return slice;
    }
}

/// <summary>Writer over a destination sized by the message's GetLength(); a short destination is a caller bug.</summary>
internal ref struct FrameWriter
{
    private readonly Span<byte> _destination;
    private int _position;

    public FrameWriter(Span<byte> destination) => _destination = destination;

    public readonly int Position => _position;

    public void WriteByte(byte value) => Take(1)[0] = value;

    public void WriteUInt16(ushort value) => BinaryPrimitives.WriteUInt16BigEndian(Take(2), value);

    public void WriteUInt32(uint value) => BinaryPrimitives.WriteUInt32BigEndian(Take(4), value);

    public void WriteUInt64(ulong value) => BinaryPrimitives.WriteUInt64BigEndian(Take(8), value);

    public void WriteMilliseconds(TimeSpan value) => WriteUInt64(value <= TimeSpan.Zero ? 0 : (ulong)(value.Ticks / TimeSpan.TicksPerMillisecond));

    public void WriteGeneration(GenerationId generation)
    {
        if (generation.Value == 0)
        {
            throw new ArgumentException("Generation 0 means none; generation IDs are 1..255.", nameof(generation));
        }

        WriteByte(generation.Value);
    }

    public void WriteOptionalGeneration(GenerationId? generation)
    {
        if (generation is { } value) WriteGeneration(value);
        else WriteByte(0);
    }

    public void WriteBytes(scoped ReadOnlySpan<byte> bytes) => bytes.CopyTo(Take(bytes.Length));

    public void WriteUtf8(string text) => Encoding.UTF8.GetBytes(text, Take(Encoding.UTF8.GetByteCount(text)));

    private Span<byte> Take(int length)
    {
        if (_destination.Length - _position < length)
        {
            throw new ArgumentException("Destination too short for the coordinator frame.");
        }

        Span<byte> slice = _destination.Slice(_position, length);
        _position += length;
        return slice;
    }
}

/// <summary>Length limits and truncation for the protocol's text fields.</summary>
internal static class CoordinatorText
{
    /// <summary>App names have a one-byte length.</summary>
    public const int MaxAppNameBytes = 255;

    /// <summary>Error messages and exit reasons have a two-byte length, capped here.</summary>
    public const int MaxTextBytes = 1024;

    /// <summary>
    /// <paramref name="text"/> cut to at most <paramref name="maxBytes"/> UTF-8 bytes at a character boundary, so
    /// an over-long diagnostic never makes an Error frame unsendable.
    /// </summary>
    public static string Truncate(string text, int maxBytes)
    {
        if (Encoding.UTF8.GetByteCount(text) <= maxBytes) return text;
        int length = Math.Min(text.Length, maxBytes);
        while (length > 0 && Encoding.UTF8.GetByteCount(text.AsSpan(0, length)) > maxBytes) length--;
        if (length > 0 && char.IsHighSurrogate(text[length - 1])) length--;
        return text[..length];
    }

    public static int AppNameLength(string appName)
    {
        int count = Encoding.UTF8.GetByteCount(appName);
        return count <= MaxAppNameBytes
            ? count
            : throw new ArgumentException($"App name is {count} UTF-8 bytes; at most {MaxAppNameBytes} allowed.", nameof(appName));
    }
}
