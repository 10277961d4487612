using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Frames;

/// <summary>STREAM_DATA_BLOCKED (RFC 9000 §19.13).</summary>
internal readonly record struct StreamDataBlockedFrame(ulong StreamId, ulong MaximumStreamData)
{
    public static StreamDataBlockedFrame Parse(scoped ref QuicReader reader, ulong frameType)
    {
        ulong streamId = reader.ReadVarInt();
        ulong maximum = reader.ReadVarInt();
        return new StreamDataBlockedFrame(streamId, maximum);
    }

    public void Write(ref QuicWriter writer)
    {
        writer.WriteVarInt((ulong)FrameType.StreamDataBlocked);
        writer.WriteVarInt(StreamId);
        writer.WriteVarInt(MaximumStreamData);
    }

    public int GetLength() => 1 + QuicVarInt.GetLength(StreamId) + QuicVarInt.GetLength(MaximumStreamData);
}
