using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Frames;

/// <summary>MAX_DATA (RFC 9000 §19.9): connection-level flow control limit.</summary>
internal readonly record struct MaxDataFrame(ulong MaximumData)
{
    public static MaxDataFrame Parse(scoped ref QuicReader reader, ulong frameType)
    {
        return new MaxDataFrame(reader.ReadVarInt());
    }

    public void Write(ref QuicWriter writer)
    {
        writer.WriteVarInt((ulong)FrameType.MaxData);
        writer.WriteVarInt(MaximumData);
    }

    public int GetLength() => 1 + QuicVarInt.GetLength(MaximumData);
}
