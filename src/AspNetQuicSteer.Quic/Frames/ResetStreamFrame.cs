using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Frames;

/// <summary>RESET_STREAM (RFC 9000 §19.4).</summary>
internal readonly record struct ResetStreamFrame(ulong StreamId, ulong ApplicationErrorCode, ulong FinalSize)
{
    public static ResetStreamFrame Parse(scoped ref QuicReader reader, ulong frameType)
    {
        ulong streamId = reader.ReadVarInt();
        ulong errorCode = reader.ReadVarInt();
        ulong finalSize = reader.ReadVarInt();
        return new ResetStreamFrame(streamId, errorCode, finalSize);
    }

    public void Write(ref QuicWriter writer)
    {
        writer.WriteVarInt((ulong)FrameType.ResetStream);
        writer.WriteVarInt(StreamId);
        writer.WriteVarInt(ApplicationErrorCode);
        writer.WriteVarInt(FinalSize);
    }

    public int GetLength() => 1 + QuicVarInt.GetLength(StreamId) + QuicVarInt.GetLength(ApplicationErrorCode) + QuicVarInt.GetLength(FinalSize);
}
