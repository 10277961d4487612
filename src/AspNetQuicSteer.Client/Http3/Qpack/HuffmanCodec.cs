using System.Diagnostics;

namespace AspNetQuicSteer.Client.Http3;

/// <summary>
/// The static Huffman code of RFC 7541 §5.2 and Appendix B, used unmodified by QPACK (RFC 9204 §4.1.2).
/// Decoding runs a 4-bit state machine built once from the code table: one lookup per nibble, at most one symbol
/// per nibble because no code is shorter than 5 bits.
/// </summary>
internal static class HuffmanCodec
{
    private const int Eos = 256;

    // Decode table entry layout: bits 0-7 symbol, 8-15 next state, then the flags below.
    private const uint EmitFlag = 1u << 16;
    private const uint FailFlag = 1u << 17;
    private const uint AcceptFlag = 1u << 18;

    // RFC 7541 Appendix B: code of each symbol 0..255 and EOS (256), right-aligned, then its length in bits.
    private static ReadOnlySpan<uint> Codes =>
    [
        0x1ff8, 0x7fffd8, 0xfffffe2, 0xfffffe3, 0xfffffe4, 0xfffffe5, 0xfffffe6, 0xfffffe7, // 0..7
        0xfffffe8, 0xffffea, 0x3ffffffc, 0xfffffe9, 0xfffffea, 0x3ffffffd, 0xfffffeb, 0xfffffec, // 8..15
        0xfffffed, 0xfffffee, 0xfffffef, 0xffffff0, 0xffffff1, 0xffffff2, 0x3ffffffe, 0xffffff3, // 16..23
        0xffffff4, 0xffffff5, 0xffffff6, 0xffffff7, 0xffffff8, 0xffffff9, 0xffffffa, 0xffffffb, // 24..31
        0x14, 0x3f8, 0x3f9, 0xffa, 0x1ff9, 0x15, 0xf8, 0x7fa, // 32..39
        0x3fa, 0x3fb, 0xf9, 0x7fb, 0xfa, 0x16, 0x17, 0x18, // 40..47
        0x0, 0x1, 0x2, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, // 48..55
        0x1e, 0x1f, 0x5c, 0xfb, 0x7ffc, 0x20, 0xffb, 0x3fc, // 56..63
        0x1ffa, 0x21, 0x5d, 0x5e, 0x5f, 0x60, 0x61, 0x62, // 64..71
        0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, // 72..79
        0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72, // 80..87
        0xfc, 0x73, 0xfd, 0x1ffb, 0x7fff0, 0x1ffc, 0x3ffc, 0x22, // 88..95
        0x7ffd, 0x3, 0x23, 0x4, 0x24, 0x5, 0x25, 0x26, // 96..103
        0x27, 0x6, 0x74, 0x75, 0x28, 0x29, 0x2a, 0x7, // 104..111
        0x2b, 0x76, 0x2c, 0x8, 0x9, 0x2d, 0x77, 0x78, // 112..119
        0x79, 0x7a, 0x7b, 0x7ffe, 0x7fc, 0x3ffd, 0x1ffd, 0xffffffc, // 120..127
        0xfffe6, 0x3fffd2, 0xfffe7, 0xfffe8, 0x3fffd3, 0x3fffd4, 0x3fffd5, 0x7fffd9, // 128..135
        0x3fffd6, 0x7fffda, 0x7fffdb, 0x7fffdc, 0x7fffdd, 0x7fffde, 0xffffeb, 0x7fffdf, // 136..143
        0xffffec, 0xffffed, 0x3fffd7, 0x7fffe0, 0xffffee, 0x7fffe1, 0x7fffe2, 0x7fffe3, // 144..151
        0x7fffe4, 0x1fffdc, 0x3fffd8, 0x7fffe5, 0x3fffd9, 0x7fffe6, 0x7fffe7, 0xffffef, // 152..159
        0x3fffda, 0x1fffdd, 0xfffe9, 0x3fffdb, 0x3fffdc, 0x7fffe8, 0x7fffe9, 0x1fffde, // 160..167
        0x7fffea, 0x3fffdd, 0x3fffde, 0xfffff0, 0x1fffdf, 0x3fffdf, 0x7fffeb, 0x7fffec, // 168..175
        0x1fffe0, 0x1fffe1, 0x3fffe0, 0x1fffe2, 0x7fffed, 0x3fffe1, 0x7fffee, 0x7fffef, // 176..183
        0xfffea, 0x3fffe2, 0x3fffe3, 0x3fffe4, 0x7ffff0, 0x3fffe5, 0x3fffe6, 0x7ffff1, // 184..191
        0x3ffffe0, 0x3ffffe1, 0xfffeb, 0x7fff1, 0x3fffe7, 0x7ffff2, 0x3fffe8, 0x1ffffec, // 192..199
        0x3ffffe2, 0x3ffffe3, 0x3ffffe4, 0x7ffffde, 0x7ffffdf, 0x3ffffe5, 0xfffff1, 0x1ffffed, // 200..207
        0x7fff2, 0x1fffe3, 0x3ffffe6, 0x7ffffe0, 0x7ffffe1, 0x3ffffe7, 0x7ffffe2, 0xfffff2, // 208..215
        0x1fffe4, 0x1fffe5, 0x3ffffe8, 0x3ffffe9, 0xffffffd, 0x7ffffe3, 0x7ffffe4, 0x7ffffe5, // 216..223
        0xfffec, 0xfffff3, 0xfffed, 0x1fffe6, 0x3fffe9, 0x1fffe7, 0x1fffe8, 0x7ffff3, // 224..231
        0x3fffea, 0x3fffeb, 0x1ffffee, 0x1ffffef, 0xfffff4, 0xfffff5, 0x3ffffea, 0x7ffff4, // 232..239
        0x3ffffeb, 0x7ffffe6, 0x3ffffec, 0x3ffffed, 0x7ffffe7, 0x7ffffe8, 0x7ffffe9, 0x7ffffea, // 240..247
        0x7ffffeb, 0xffffffe, 0x7ffffec, 0x7ffffed, 0x7ffffee, 0x7ffffef, 0x7fffff0, 0x3ffffee, // 248..255
        0x3fffffff, // 256..256
    ];

    private static ReadOnlySpan<byte> Lengths =>
    [
        13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, // 0..15
        28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, // 16..31
        6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, // 32..47
        5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, // 48..63
        13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, // 64..79
        7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, // 80..95
        15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, // 96..111
        6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, // 112..127
        20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 128..143
        24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 144..159
        22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 160..175
        21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 176..191
        26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 192..207
        19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 208..223
        20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 224..239
        26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 240..255
        30, // 256..256
    ];

    // 256 states (the internal nodes of the code tree; the root is 0) × 16 nibbles.
    private static readonly uint[] DecodeTable = BuildDecodeTable();

    /// <summary>Upper bound of the decoded length (every symbol takes at least 5 bits), saturating at <see cref="int.MaxValue"/>.</summary>
    public static int GetMaxDecodedLength(int encodedLength) => (int)Math.Min((long)encodedLength * 8 / 5, int.MaxValue);

    /// <summary>
    /// Decodes into <paramref name="destination"/> and returns the bytes written. Throws QPACK_DECOMPRESSION_FAILED
    /// for an invalid string or when <paramref name="destination"/> is too small.
    /// </summary>
    public static int Decode(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        if (!TryDecode(source, destination, out int written))
        {
            throw new Http3ProtocolViolationException(
                Http3ErrorCode.QpackDecompressionFailed, "Huffman-decoded string does not fit its buffer.");
        }

        return written;
    }

    /// <summary>
    /// Like <see cref="Decode"/>, but returns false instead of throwing when <paramref name="destination"/> is too
    /// small (the caller decides what that means, e.g. a field over the size limit). Invalid input still throws.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> source, Span<byte> destination, out int written)
    {
        uint[] table = DecodeTable;
        int state = 0;
        int count = 0;
        bool accept = true;
        foreach (byte b in source)
        {
            uint entry = table[(state << 4) | (b >> 4)];
            if ((entry & (EmitFlag | FailFlag)) != 0 && !Step(entry, destination, ref count))
            {
                written = count;
                return false;
            }

            entry = table[((int)(entry >> 4) & 0xff0) | (b & 0xf)];
            if ((entry & (EmitFlag | FailFlag)) != 0 && !Step(entry, destination, ref count))
            {
                written = count;
                return false;
            }

            state = (int)((entry >> 8) & 0xff);
            accept = (entry & AcceptFlag) != 0;
        }

        // RFC 7541 §5.2: the bits after the last symbol must be fewer than 8 and all ones (a prefix of EOS).
        if (!accept)
        {
            throw new Http3ProtocolViolationException(
                Http3ErrorCode.QpackDecompressionFailed, "Huffman string has invalid padding.");
        }

        written = count;
        return true;
    }

    /// <summary>Encoded length of <paramref name="source"/> in bytes, padding included.</summary>
    public static int GetEncodedLength(ReadOnlySpan<byte> source)
    {
        ReadOnlySpan<byte> lengths = Lengths;
        long bits = 0;
        foreach (byte b in source)
        {
            bits += lengths[b];
        }

        return checked((int)((bits + 7) >> 3));
    }

    /// <summary>
    /// Encodes <paramref name="source"/> and returns the bytes written. <paramref name="destination"/> must hold
    /// <see cref="GetEncodedLength"/> bytes (an <see cref="ArgumentException"/> otherwise: a caller bug).
    /// </summary>
    public static int Encode(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        ReadOnlySpan<uint> codes = Codes;
        ReadOnlySpan<byte> lengths = Lengths;
        ulong pending = 0; // only the low `bits` bits are meaningful; older bits fall off the top
        int bits = 0;
        int written = 0;
        foreach (byte b in source)
        {
            int length = lengths[b];
            pending = (pending << length) | codes[b];
            bits += length;
            while (bits >= 8)
            {
                bits -= 8;
                if (written == destination.Length)
                {
                    throw TooSmall(nameof(destination));
                }

                destination[written++] = (byte)(pending >> bits);
            }
        }

        if (bits > 0)
        {
            if (written == destination.Length)
            {
                throw TooSmall(nameof(destination));
            }

            // RFC 7541 §5.2: pad with the most significant bits of EOS, i.e. ones.
            destination[written++] = (byte)((pending << (8 - bits)) | (0xffu >> bits));
        }

        return written;
    }

    private static bool Step(uint entry, Span<byte> destination, ref int count)
    {
        // RFC 7541 §5.2: a string containing EOS is a decoding error.
        if ((entry & FailFlag) != 0)
        {
            throw new Http3ProtocolViolationException(
                Http3ErrorCode.QpackDecompressionFailed, "Huffman string contains EOS.");
        }

        if (count == destination.Length)
        {
            return false;
        }

        destination[count++] = (byte)entry;
        return true;
    }

    private static ArgumentException TooSmall(string name) => new("Destination is too small for the Huffman encoding.", name);

    private static uint[] BuildDecodeTable()
    {
        // Code tree: children[2 * node + bit] is an internal node id (> 0), a leaf ~symbol (< 0), or 0 (unset;
        // the root is never a child). A complete prefix code with 257 leaves has exactly 256 internal nodes.
        var children = new int[2 * 256];
        var onEosPath = new bool[256]; // all bits from the root are ones ...
        var depth = new int[256];      // ... and how many: padding is such a path of at most 7 bits
        onEosPath[0] = true;
        int nodes = 1;
        for (int symbol = 0; symbol <= Eos; symbol++)
        {
            int length = Lengths[symbol];
            uint code = Codes[symbol];
            int node = 0;
            for (int i = length - 1; i > 0; i--)
            {
                int bit = (int)(code >> i) & 1;
                ref int child = ref children[(2 * node) + bit];
                if (child == 0)
                {
                    child = nodes++;
                    onEosPath[child] = onEosPath[node] && bit == 1;
                    depth[child] = depth[node] + 1;
                }

                node = child;
            }

            children[(2 * node) + (int)(code & 1)] = ~symbol;
        }

        Debug.Assert(nodes == 256, "The code table is not a complete prefix code.");
        var table = new uint[256 * 16];
        for (int state = 0; state < nodes; state++)
        {
            for (int nibble = 0; nibble < 16; nibble++)
            {
                int node = state;
                uint entry = 0;
                for (int i = 3; i >= 0; i--)
                {
                    int child = children[(2 * node) + ((nibble >> i) & 1)];
                    if (child >= 0)
                    {
                        node = child;
                        continue;
                    }

                    if (~child == Eos)
                    {
                        entry |= FailFlag;
                        break;
                    }

                    entry |= EmitFlag | (uint)~child;
                    node = 0;
                }

                if (onEosPath[node] && depth[node] <= 7)
                {
                    entry |= AcceptFlag;
                }

                table[(state << 4) | nibble] = entry | ((uint)node << 8);
            }
        }

        return table;
    }
}
