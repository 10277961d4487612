using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace AspNetQuicSteer.Quic.Wire;

/// <summary>Variable-length integer encoding, RFC 9000 §16.</summary>
internal static class QuicVarInt
{
    /// <summary>2^62 - 1, the largest encodable value (RFC 9000 §16).</summary>
    public const ulong MaxValue = (1UL << 62) - 1;

    /// <summary>Length of the encoding implied by the two most significant bits of the first byte.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int LengthFromFirstByte(byte first) => 1 << (first >> 6);

    /// <summary>Smallest encoding length for <paramref name="value"/>; the value must be at most <see cref="MaxValue"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int GetLength(ulong value)
    {
        if (value <= 63) return 1;
        if (value <= 16383) return 2;
        if (value <= 1073741823) return 4;
        if (value <= MaxValue) return 8;
        throw new ArgumentOutOfRangeException(nameof(value), value, "Value exceeds 2^62-1.");
    }

    /// <summary>Decodes one varint. Returns false when the input is too short.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryRead(ReadOnlySpan<byte> source, out ulong value, out int bytesRead)
    {
        if (source.IsEmpty)
        {
            value = 0;
            bytesRead = 0;
            return false;
        }

        int length = LengthFromFirstByte(source[0]);
        if (source.Length < length)
        {
            value = 0;
            bytesRead = 0;
            return false;
        }

        value = length switch
        {
            1 => (ulong)(source[0] & 0x3f),
            2 => (ulong)(BinaryPrimitives.ReadUInt16BigEndian(source) & 0x3fff),
            4 => BinaryPrimitives.ReadUInt32BigEndian(source) & 0x3fff_ffffu,
            _ => BinaryPrimitives.ReadUInt64BigEndian(source) & 0x3fff_ffff_ffff_ffffUL,
        };
        bytesRead = length;
        return true;
    }

    /// <summary>Encodes with the smallest length. Returns false when the destination is too short.</summary>
    public static bool TryWrite(Span<byte> destination, ulong value, out int bytesWritten)
        => TryWrite(destination, value, GetLength(value), out bytesWritten);

    /// <summary>
    /// Encodes with a fixed <paramref name="length"/> (1, 2, 4 or 8). Non-minimal encodings are legal
    /// (RFC 9000 §16) and are used to reserve space for a length field before its value is known.
    /// </summary>
    public static bool TryWrite(Span<byte> destination, ulong value, int length, out int bytesWritten)
    {
        if (value > MaxValue || length < GetLength(value))
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "Value does not fit the requested varint length.");
        }

        if (destination.Length < length)
        {
            bytesWritten = 0;
            return false;
        }

        switch (length)
        {
            case 1:
                destination[0] = (byte)value;
                break;
            case 2:
                BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)(value | 0x4000));
                break;
            case 4:
                BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)value | 0x8000_0000u);
                break;
            case 8:
                BinaryPrimitives.WriteUInt64BigEndian(destination, value | 0xc000_0000_0000_0000UL);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(length), length, "Varint length must be 1, 2, 4 or 8.");
        }

        bytesWritten = length;
        return true;
    }
}
