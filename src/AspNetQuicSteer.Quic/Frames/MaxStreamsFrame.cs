using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Frames;

/// <summary>MAX_STREAMS (RFC 9000 §19.11): 0x12 bidirectional, 0x13 unidirectional.</summary>
internal readonly record struct MaxStreamsFrame(bool Bidirectional, ulong MaximumStreams)
{
    public static MaxStreamsFrame Parse(scoped ref QuicReader reader, ulong frameType)
    {
        ulong maximum = reader.ReadVarInt();

        // RFC 9000 §19.11: a count above 2^60 could not be expressed as stream IDs: FRAME_ENCODING_ERROR.
        if (maximum > StreamId.MaxStreamCount)
        {
            throw QuicProtocolException.FrameEncoding("MAX_STREAMS above 2^60.", frameType);
        }

        return new MaxStreamsFrame(frameType == (ulong)FrameType.MaxStreamsBidi, maximum);
    }

    public void Write(ref QuicWriter writer)
    {
        writer.WriteVarInt((ulong)(Bidirectional ? FrameType.MaxStreamsBidi : FrameType.MaxStreamsUni));
        writer.WriteVarInt(MaximumStreams);
    }

    public int GetLength() => 1 + QuicVarInt.GetLength(MaximumStreams);
}
