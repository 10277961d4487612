using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Frames;

/// <summary>MAX_STREAM_DATA (RFC 9000 §19.10): stream-level flow control limit.</summary>
internal readonly record struct MaxStreamDataFrame(ulong StreamId, ulong MaximumStreamData)
{
    public static MaxStreamDataFrame Parse(scoped ref QuicReader reader, ulong frameType)
    {
        ulong streamId = reader.ReadVarInt();
        ulong maximum = reader.ReadVarInt();
        return new MaxStreamDataFrame(streamId, maximum);
    }

    public void Write(ref QuicWriter writer)
    {
        writer.WriteVarInt((ulong)FrameType.MaxStreamData);
        writer.WriteVarInt(StreamId);
        writer.WriteVarInt(MaximumStreamData);
    }

    public int GetLength() => 1 + QuicVarInt.GetLength(StreamId) + QuicVarInt.GetLength(MaximumStreamData);
}
