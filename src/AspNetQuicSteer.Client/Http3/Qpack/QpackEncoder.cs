using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;

namespace AspNetQuicSteer.Client.Http3;

/// <summary>
/// Encodes field sections (RFC 9204 §4.5) without the dynamic table: the peer's table is never used, so there are no
/// encoder-stream instructions, no blocked streams and nothing to acknowledge. A section is
/// <see cref="WritePrefix"/> followed by one <see cref="WriteField"/> per field line.
/// </summary>
internal static class QpackEncoder
{
    /// <summary>Length of the prefix written by <see cref="WritePrefix"/>.</summary>
    public const int PrefixLength = 2;

    // Names and values up to these lengths are staged on the stack; longer ones are rented.
    private const int StackNameLength = 256;
    private const int StackValueLength = 512;

    /// <summary>
    /// Writes the field section prefix (RFC 9204 §4.5.1): Required Insert Count 0 and Base 0 (Sign 0, Delta Base 0),
    /// the encoding for a section without dynamic references. Returns 2, or -1 when the destination is too short.
    /// </summary>
    public static int WritePrefix(Span<byte> destination)
    {
        if (destination.Length < PrefixLength)
        {
            return -1;
        }

        destination[0] = 0x00;
        destination[1] = 0x00;
        return PrefixLength;
    }

    /// <summary>
    /// Upper bound of <see cref="WriteField"/>'s output: a literal name and value, neither Huffman-coded (Huffman is
    /// only chosen when shorter), which is never shorter than the indexed or name-reference forms.
    /// </summary>
    public static int GetMaxLength(int nameLength, int valueLength)
        => QpackInteger.GetLength(3, (ulong)nameLength) + nameLength + QpackInteger.GetLength(7, (ulong)valueLength) + valueLength;

    /// <summary>
    /// Writes one field line and returns the bytes written, or -1 (writing nothing useful) when
    /// <paramref name="destination"/> is too short: the caller grows its buffer, at most to <see cref="GetMaxLength"/>,
    /// and retries. Uppercase ASCII in <paramref name="name"/> is lowercased (RFC 9114 §4.2).
    /// </summary>
    [SkipLocalsInit]
    public static int WriteField(Span<byte> destination, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        // RFC 9114 §4.2: field names MUST be converted to lowercase before encoding.
        if (!name.ContainsAnyInRange((byte)'A', (byte)'Z'))
        {
            return WriteLowercaseField(destination, name, value);
        }

        byte[]? rented = null;
        Span<byte> lowered = name.Length <= StackNameLength
            ? stackalloc byte[StackNameLength]
            : (rented = ArrayPool<byte>.Shared.Rent(name.Length));
        try
        {
            lowered = lowered[..name.Length];
            for (int i = 0; i < name.Length; i++)
            {
                byte b = name[i];
                lowered[i] = b is >= (byte)'A' and <= (byte)'Z' ? (byte)(b | 0x20) : b;
            }

            return WriteLowercaseField(destination, lowered, value);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Writes the field section prefix to <paramref name="writer"/>.</summary>
    public static void EncodePrefix(IBufferWriter<byte> writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Advance(WritePrefix(writer.GetSpan(PrefixLength)));
    }

    /// <summary>Writes one field line to <paramref name="writer"/>; see <see cref="WriteField"/>.</summary>
    public static void Encode(IBufferWriter<byte> writer, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        Span<byte> destination = writer.GetSpan(GetMaxLength(name.Length, value.Length));
        writer.Advance(WriteField(destination, name, value));
    }

    /// <inheritdoc cref="Encode(IBufferWriter{byte}, ReadOnlySpan{char}, ReadOnlySpan{char})"/>
    public static void Encode(IBufferWriter<byte> writer, string name, string value)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(value);
        Encode(writer, name.AsSpan(), value.AsSpan());
    }

    /// <summary>
    /// Writes one field line from text: the name must be ASCII (it is lowercased), the value Latin-1 (RFC 9110 §5.5
    /// allows obs-text octets). Other characters throw <see cref="ArgumentException"/>: they have no wire form.
    /// </summary>
    [SkipLocalsInit]
    public static void Encode(IBufferWriter<byte> writer, ReadOnlySpan<char> name, ReadOnlySpan<char> value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (!Ascii.IsValid(name))
        {
            throw new ArgumentException("Field names must be ASCII.", nameof(name));
        }

        if (value.ContainsAnyExceptInRange('\0', '\u00ff'))
        {
            throw new ArgumentException("Field values must be Latin-1.", nameof(value));
        }

        byte[]? rentedName = null;
        byte[]? rentedValue = null;
        Span<byte> nameBytes = name.Length <= StackNameLength
            ? stackalloc byte[StackNameLength]
            : (rentedName = ArrayPool<byte>.Shared.Rent(name.Length));
        Span<byte> valueBytes = value.Length <= StackValueLength
            ? stackalloc byte[StackValueLength]
            : (rentedValue = ArrayPool<byte>.Shared.Rent(value.Length));
        try
        {
            Ascii.ToLower(name, nameBytes, out int nameLength);
            int valueLength = Encoding.Latin1.GetBytes(value, valueBytes);
            Encode(writer, nameBytes[..nameLength], valueBytes[..valueLength]);
        }
        finally
        {
            if (rentedName is not null)
            {
                ArrayPool<byte>.Shared.Return(rentedName);
            }

            if (rentedValue is not null)
            {
                ArrayPool<byte>.Shared.Return(rentedValue);
            }
        }
    }

    private static int WriteLowercaseField(Span<byte> destination, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        int index = QpackStaticTable.Find(name, value, out bool valueMatched);
        if (valueMatched)
        {
            // RFC 9204 §4.5.2: Indexed Field Line '1T' with T = 1 (static table).
            return QpackInteger.Encode(destination, 0xc0, 6, (ulong)index);
        }

        // RFC 9204 §4.1.2 (RFC 7541 §5.2): Huffman-code a string only when that is shorter.
        int valueLength = GetStringLength(value, 7, out bool valueHuffman, out int valueEncodedLength);
        if (index >= 0)
        {
            // RFC 9204 §4.5.4: Literal Field Line with Name Reference '01NT', N = 0 (intermediaries may index it),
            // T = 1 (static table), 4-bit prefix index; the value is an 8-bit prefix string.
            int indexLength = QpackInteger.GetLength(4, (ulong)index);
            if (destination.Length < indexLength + valueLength)
            {
                return -1;
            }

            int written = QpackInteger.Encode(destination, 0x50, 4, (ulong)index);
            return written + WriteString(destination[written..], 0x00, 7, value, valueHuffman, valueEncodedLength);
        }

        // RFC 9204 §4.5.6: Literal Field Line with Literal Name '001N', N = 0, the name as a 4-bit prefix string
        // (H bit 0x08, 3-bit length prefix), then the value as an 8-bit prefix string.
        int nameLength = GetStringLength(name, 3, out bool nameHuffman, out int nameEncodedLength);
        if (destination.Length < nameLength + valueLength)
        {
            return -1;
        }

        int offset = WriteString(destination, 0x20, 3, name, nameHuffman, nameEncodedLength);
        return offset + WriteString(destination[offset..], 0x00, 7, value, valueHuffman, valueEncodedLength);
    }

    /// <summary>Length of a string literal with a <paramref name="lengthPrefixBits"/> length prefix, picking the shorter coding.</summary>
    private static int GetStringLength(ReadOnlySpan<byte> source, int lengthPrefixBits, out bool huffman, out int encodedLength)
    {
        int huffmanLength = HuffmanCodec.GetEncodedLength(source);
        huffman = huffmanLength < source.Length;
        encodedLength = huffman ? huffmanLength : source.Length;
        return QpackInteger.GetLength(lengthPrefixBits, (ulong)encodedLength) + encodedLength;
    }

    /// <summary>
    /// Writes a string literal: <paramref name="flags"/> for the bits above the H bit, the H bit (just above the
    /// <paramref name="lengthPrefixBits"/>-bit length prefix), the length, the bytes. The destination was sized by the caller.
    /// </summary>
    private static int WriteString(
        Span<byte> destination, byte flags, int lengthPrefixBits, ReadOnlySpan<byte> source, bool huffman, int encodedLength)
    {
        byte huffmanBit = huffman ? (byte)(1 << lengthPrefixBits) : (byte)0;
        int written = QpackInteger.Encode(destination, (byte)(flags | huffmanBit), lengthPrefixBits, (ulong)encodedLength);
        if (huffman)
        {
            return written + HuffmanCodec.Encode(source, destination[written..]);
        }

        source.CopyTo(destination[written..]);
        return written + source.Length;
    }
}
