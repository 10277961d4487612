using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Frames;

/// <summary>CRYPTO (RFC 9000 §19.6): TLS handshake bytes at an offset in the encryption level's stream.</summary>
internal readonly ref struct CryptoFrame
{
    public CryptoFrame(ulong offset, ReadOnlySpan<byte> data)
    {
        Offset = offset;
        Data = data;
    }

    public ulong Offset { get; }

    public ReadOnlySpan<byte> Data { get; }

    public static CryptoFrame Parse(scoped ref QuicReader reader, ulong frameType)
    {
        ulong offset = reader.ReadVarInt();
        ReadOnlySpan<byte> data = reader.ReadVarIntPrefixedBytes();

        // RFC 9000 §19.6: offset + length may not exceed 2^62-1 (FRAME_ENCODING_ERROR or CRYPTO_BUFFER_EXCEEDED).
        if ((ulong)data.Length > QuicVarInt.MaxValue - offset)
        {
            throw QuicProtocolException.FrameEncoding("CRYPTO frame ends beyond 2^62-1.", frameType);
        }

        return new CryptoFrame(offset, data);
    }

    public void Write(ref QuicWriter writer) => Write(ref writer, Offset, Data);

    /// <summary>Writes a CRYPTO frame; the data may live in narrower-scoped memory than the writer.</summary>
    public static void Write(ref QuicWriter writer, ulong offset, scoped ReadOnlySpan<byte> data)
    {
        writer.WriteVarInt((ulong)FrameType.Crypto);
        writer.WriteVarInt(offset);
        writer.WriteVarIntPrefixedBytes(data);
    }

    public int GetLength() => 1 + QuicVarInt.GetLength(Offset) + QuicVarInt.GetLength((ulong)Data.Length) + Data.Length;

    /// <summary>
    /// How many data bytes a CRYPTO frame at <paramref name="offset"/> can carry in
    /// <paramref name="space"/> bytes; -1 when not even the frame's header fits.
    /// </summary>
    public static int GetMaxDataLength(ulong offset, int space)
    {
        int available = space - 1 - QuicVarInt.GetLength(offset);
        int fit = FrameSizing.MaxPayloadWithLengthPrefix(available);
        return fit < 0 ? -1 : (int)Math.Min((ulong)fit, QuicVarInt.MaxValue - offset);
    }
}
