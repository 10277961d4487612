using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Frames;

/// <summary>
/// STREAM (RFC 9000 §19.8), types 0x08-0x0f. The type's low bits flag the fields present: OFF (0x04)
/// an Offset field, LEN (0x02) a Length field (otherwise the data runs to the end of the packet) and
/// FIN (0x01) the end of the stream. Write sets OFF only for a non-zero offset.
/// </summary>
internal readonly ref struct StreamFrame
{
    private const byte OffsetBit = 0x04;
    private const byte LengthBit = 0x02;
    private const byte FinBit = 0x01;

    public StreamFrame(ulong streamId, ulong offset, ReadOnlySpan<byte> data, bool fin, bool hasLength = true)
    {
        StreamId = streamId;
        Offset = offset;
        Data = data;
        Fin = fin;
        HasLength = hasLength;
    }

    public ulong StreamId { get; }

    public ulong Offset { get; }

    public ReadOnlySpan<byte> Data { get; }

    public bool Fin { get; }

    /// <summary>Whether the Length field is present; without it the frame must be the last in its packet.</summary>
    public bool HasLength { get; }

    /// <summary>RFC 9000 §19.8: the stream's size implied by this frame (offset + data length).</summary>
    public ulong EndOffset => Offset + (ulong)Data.Length;

    public static StreamFrame Parse(scoped ref QuicReader reader, ulong frameType)
    {
        ulong streamId = reader.ReadVarInt();
        ulong offset = (frameType & OffsetBit) != 0 ? reader.ReadVarInt() : 0;
        bool hasLength = (frameType & LengthBit) != 0;

        // RFC 9000 §19.8: without LEN the Stream Data field extends to the end of the packet.
        ReadOnlySpan<byte> data = hasLength ? reader.ReadVarIntPrefixedBytes() : reader.ReadBytes(reader.Remaining);

        // RFC 9000 §19.8: offset + length above 2^62-1 is a FRAME_ENCODING_ERROR (or FLOW_CONTROL_ERROR).
        if ((ulong)data.Length > QuicVarInt.MaxValue - offset)
        {
            throw QuicProtocolException.FrameEncoding("STREAM frame ends beyond 2^62-1.", frameType);
        }

        return new StreamFrame(streamId, offset, data, (frameType & FinBit) != 0, hasLength);
    }

    public ulong GetFrameType()
        => (ulong)FrameType.Stream | (Offset != 0 ? OffsetBit : 0u) | (HasLength ? LengthBit : 0u) | (Fin ? FinBit : 0u);

    public void Write(ref QuicWriter writer) => Write(ref writer, StreamId, Offset, Data, Fin, HasLength);

    /// <summary>
    /// Writes a STREAM frame from its fields; unlike building a <see cref="StreamFrame"/>, the data may
    /// live in narrower-scoped memory (stackalloc) than the writer.
    /// </summary>
    public static void Write(ref QuicWriter writer, ulong streamId, ulong offset, scoped ReadOnlySpan<byte> data, bool fin, bool hasLength)
    {
        // RFC 9000 §19.8: OFF only when the offset is non-zero (minimal), LEN and FIN as asked.
        writer.WriteVarInt((ulong)FrameType.Stream | (offset != 0 ? OffsetBit : 0u) | (hasLength ? LengthBit : 0u) | (fin ? FinBit : 0u));
        writer.WriteVarInt(streamId);
        if (offset != 0)
        {
            writer.WriteVarInt(offset);
        }

        if (hasLength)
        {
            writer.WriteVarIntPrefixedBytes(data);
        }
        else
        {
            writer.WriteBytes(data);
        }
    }

    public int GetLength() => GetHeaderLength(StreamId, Offset, HasLength ? Data.Length : -1) + Data.Length;

    /// <summary>
    /// Type, stream ID, optional offset and (when <paramref name="dataLengthOrMinusOne"/> is not -1)
    /// length field bytes of a STREAM frame.
    /// </summary>
    public static int GetHeaderLength(ulong streamId, ulong offset, int dataLengthOrMinusOne)
        => 1 + QuicVarInt.GetLength(streamId)
            + (offset != 0 ? QuicVarInt.GetLength(offset) : 0)
            + (dataLengthOrMinusOne >= 0 ? QuicVarInt.GetLength((ulong)dataLengthOrMinusOne) : 0);

    /// <summary>
    /// How many data bytes a STREAM frame can carry in <paramref name="space"/> bytes, for packetization:
    /// with a Length field when <paramref name="withLength"/>, else filling the rest of the packet.
    /// -1 when not even the frame header fits. Also capped so the frame never ends beyond 2^62-1
    /// (RFC 9000 §19.8).
    /// </summary>
    public static int GetMaxDataLength(ulong streamId, ulong offset, int space, bool withLength)
    {
        int available = space - GetHeaderLength(streamId, offset, -1);
        int fit = withLength ? FrameSizing.MaxPayloadWithLengthPrefix(available) : available;
        return fit < 0 ? -1 : (int)Math.Min((ulong)fit, QuicVarInt.MaxValue - offset);
    }
}
