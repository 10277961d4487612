using System.Buffers;
using System.Runtime.CompilerServices;

namespace AspNetQuicSteer.Client.Http3;

/// <summary>
/// Decodes encoded field sections (RFC 9204 §4.5) for a decoder that advertised SETTINGS_QPACK_MAX_TABLE_CAPACITY = 0:
/// only the static table can be referenced, so no section can block and nothing is sent on the decoder stream.
/// </summary>
internal static class QpackDecoder
{
    // RFC 9114 §4.2.2: a field line's size is its name and value lengths plus 32.
    private const int FieldOverhead = 32;

    // Huffman scratch up to this size lives on the stack; beyond, it is rented.
    private const int StackScratchLength = 1024;

    /// <summary>
    /// Decodes <paramref name="fieldSection"/> and hands each field line to <paramref name="handler"/>. Throws
    /// <see cref="Http3ProtocolViolationException"/>: QPACK_DECOMPRESSION_FAILED for malformed or truncated input or
    /// dynamic table references, H3_EXCESSIVE_LOAD when the section's size (RFC 9114 §4.2.2) exceeds
    /// <paramref name="maxFieldSectionSize"/> (pass <see cref="int.MaxValue"/> for no limit).
    /// </summary>
    [SkipLocalsInit]
    public static void Decode(ReadOnlySpan<byte> fieldSection, IQpackFieldHandler handler, int maxFieldSectionSize)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentOutOfRangeException.ThrowIfNegative(maxFieldSectionSize);

        int offset = 0;

        // RFC 9204 §4.5.1.1: with a table capacity of 0, MaxEntries is 0 and the only Encoded Required Insert
        // Count a conformant encoder can produce is 0; any other value is QPACK_DECOMPRESSION_FAILED.
        if (ReadInteger(fieldSection, ref offset, 8) != 0)
        {
            throw Failed("Required Insert Count is not 0, but the dynamic table capacity is 0.");
        }

        // RFC 9204 §4.5.1.2: Sign = 1 needs Required Insert Count > Delta Base, impossible when it is 0.
        // Delta Base itself is meaningless without dynamic references but must still be a valid integer.
        bool negativeBase = offset < fieldSection.Length && (fieldSection[offset] & 0x80) != 0;
        ReadInteger(fieldSection, ref offset, 7);
        if (negativeBase)
        {
            throw Failed("Base is negative.");
        }

        // Room for the Huffman-decoded name and value of one field line: together they can never exceed what the
        // whole section could decode to, nor (without the section being too large anyway) the size limit.
        int scratchLength = Math.Min(HuffmanCodec.GetMaxDecodedLength(fieldSection.Length), maxFieldSectionSize);
        byte[]? rented = null;
        Span<byte> scratch = scratchLength <= StackScratchLength
            ? stackalloc byte[StackScratchLength]
            : (rented = ArrayPool<byte>.Shared.Rent(scratchLength));
        scratch = scratch[..scratchLength];
        try
        {
            long size = 0;
            while (offset < fieldSection.Length)
            {
                byte first = fieldSection[offset];
                scoped ReadOnlySpan<byte> name;
                scoped ReadOnlySpan<byte> value;
                if ((first & 0x80) != 0)
                {
                    // RFC 9204 §4.5.2: Indexed Field Line '1T'; T = 0 is the dynamic table, which is empty.
                    if ((first & 0x40) == 0)
                    {
                        throw Failed("Indexed field line references the dynamic table.");
                    }

                    int index = ReadStaticIndex(fieldSection, ref offset, 6);
                    name = QpackStaticTable.GetName(index);
                    value = QpackStaticTable.GetValue(index);
                }
                else if ((first & 0x40) != 0)
                {
                    // RFC 9204 §4.5.4: Literal Field Line with Name Reference '01NT'; T = 0 is the (empty) dynamic
                    // table. N only constrains re-encoding by intermediaries, so it is ignored here.
                    if ((first & 0x10) == 0)
                    {
                        throw Failed("Literal field line references a dynamic table name.");
                    }

                    int index = ReadStaticIndex(fieldSection, ref offset, 4);
                    name = QpackStaticTable.GetName(index);
                    value = ReadString(fieldSection, ref offset, 8, scratch, out _);
                }
                else if ((first & 0x20) != 0)
                {
                    // RFC 9204 §4.5.6: Literal Field Line with Literal Name '001N', name as a 4-bit prefix string
                    // (H bit then a 3-bit length prefix), value as an 8-bit prefix string.
                    name = ReadString(fieldSection, ref offset, 4, scratch, out int scratchUsed);
                    value = ReadString(fieldSection, ref offset, 8, scratch[scratchUsed..], out _);
                }
                else
                {
                    // RFC 9204 §4.5.3 ('0001') and §4.5.5 ('0000'): post-Base references are dynamic table
                    // references with Required Insert Count 0, i.e. invalid (§2.2.3).
                    throw Failed("Field line uses a post-Base dynamic table reference.");
                }

                // RFC 9114 §4.2.2: enforce the SETTINGS_MAX_FIELD_SECTION_SIZE we advertised.
                size += (long)name.Length + value.Length + FieldOverhead;
                if (size > maxFieldSectionSize)
                {
                    throw TooLarge();
                }

                handler.OnField(name, value);
            }
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private static ulong ReadInteger(ReadOnlySpan<byte> source, ref int offset, int prefixBits)
    {
        if (!QpackInteger.TryDecode(source[offset..], prefixBits, out ulong value, out int consumed))
        {
            throw Failed("Field section is truncated.");
        }

        offset += consumed;
        return value;
    }

    private static int ReadStaticIndex(ReadOnlySpan<byte> source, ref int offset, int prefixBits)
    {
        ulong index = ReadInteger(source, ref offset, prefixBits);

        // RFC 9204 §3.1: a reference beyond the static table is QPACK_DECOMPRESSION_FAILED.
        if (index >= QpackStaticTable.Count)
        {
            throw Failed($"Static table index {index} is out of range.");
        }

        return (int)index;
    }

    /// <summary>
    /// Reads an N-bit prefix string literal (RFC 9204 §4.1.2): an H bit, an (N-1)-bit prefix length, the bytes.
    /// Returns a slice of <paramref name="source"/> or, when Huffman-coded, of <paramref name="scratch"/>, whose used
    /// length is reported in <paramref name="scratchUsed"/>.
    /// </summary>
    private static ReadOnlySpan<byte> ReadString(
        ReadOnlySpan<byte> source, scoped ref int offset, int prefixBits, Span<byte> scratch, out int scratchUsed)
    {
        scratchUsed = 0;
        if (offset >= source.Length)
        {
            throw Failed("Field section is truncated.");
        }

        bool huffman = (source[offset] & (1 << (prefixBits - 1))) != 0;
        ulong length = ReadInteger(source, ref offset, prefixBits - 1);
        if (length > (ulong)(source.Length - offset))
        {
            throw Failed("String literal is truncated.");
        }

        ReadOnlySpan<byte> raw = source.Slice(offset, (int)length);
        offset += (int)length;
        if (!huffman)
        {
            return raw;
        }

        // RFC 7541 §5.2 violations throw inside; running out of scratch means the field alone breaks the limit.
        if (!HuffmanCodec.TryDecode(raw, scratch, out scratchUsed))
        {
            throw TooLarge();
        }

        return scratch[..scratchUsed];
    }

    private static Http3ProtocolViolationException Failed(string message)
        => new(Http3ErrorCode.QpackDecompressionFailed, message);

    private static Http3ProtocolViolationException TooLarge()
        => new(Http3ErrorCode.ExcessiveLoad, "field section too large");
}
