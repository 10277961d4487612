using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Frames;

/// <summary>DATA_BLOCKED (RFC 9000 §19.12): the connection-level limit at which the sender is blocked.</summary>
internal readonly record struct DataBlockedFrame(ulong MaximumData)
{
    public static DataBlockedFrame Parse(scoped ref QuicReader reader, ulong frameType)
    {
        return new DataBlockedFrame(reader.ReadVarInt());
    }

    public void Write(ref QuicWriter writer)
    {
        writer.WriteVarInt((ulong)FrameType.DataBlocked);
        writer.WriteVarInt(MaximumData);
    }

    public int GetLength() => 1 + QuicVarInt.GetLength(MaximumData);
}
