using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Frames;

/// <summary>RETIRE_CONNECTION_ID (RFC 9000 §19.16).</summary>
internal readonly record struct RetireConnectionIdFrame(ulong SequenceNumber)
{
    public static RetireConnectionIdFrame Parse(scoped ref QuicReader reader, ulong frameType)
    {
        return new RetireConnectionIdFrame(reader.ReadVarInt());
    }

    public void Write(ref QuicWriter writer)
    {
        writer.WriteVarInt((ulong)FrameType.RetireConnectionId);
        writer.WriteVarInt(SequenceNumber);
    }

    public int GetLength() => 1 + QuicVarInt.GetLength(SequenceNumber);
}
