using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Frames;

/// <summary>STOP_SENDING (RFC 9000 §19.5).</summary>
internal readonly record struct StopSendingFrame(ulong StreamId, ulong ApplicationErrorCode)
{
    public static StopSendingFrame Parse(scoped ref QuicReader reader, ulong frameType)
    {
        ulong streamId = reader.ReadVarInt();
        ulong errorCode = reader.ReadVarInt();
        return new StopSendingFrame(streamId, errorCode);
    }

    public void Write(ref QuicWriter writer)
    {
        writer.WriteVarInt((ulong)FrameType.StopSending);
        writer.WriteVarInt(StreamId);
        writer.WriteVarInt(ApplicationErrorCode);
    }

    public int GetLength() => 1 + QuicVarInt.GetLength(StreamId) + QuicVarInt.GetLength(ApplicationErrorCode);
}
