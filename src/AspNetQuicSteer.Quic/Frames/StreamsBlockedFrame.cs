using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Frames;

/// <summary>STREAMS_BLOCKED (RFC 9000 §19.14): 0x16 bidirectional, 0x17 unidirectional.</summary>
internal readonly record struct StreamsBlockedFrame(bool Bidirectional, ulong MaximumStreams)
{
    public static StreamsBlockedFrame Parse(scoped ref QuicReader reader, ulong frameType)
    {
        ulong maximum = reader.ReadVarInt();

        // RFC 9000 §19.14: the value cannot exceed 2^60; a larger one is a FRAME_ENCODING_ERROR here.
        if (maximum > StreamId.MaxStreamCount)
        {
            throw QuicProtocolException.FrameEncoding("STREAMS_BLOCKED above 2^60.", frameType);
        }

        return new StreamsBlockedFrame(frameType == (ulong)FrameType.StreamsBlockedBidi, maximum);
    }

    public void Write(ref QuicWriter writer)
    {
        writer.WriteVarInt((ulong)(Bidirectional ? FrameType.StreamsBlockedBidi : FrameType.StreamsBlockedUni));
        writer.WriteVarInt(MaximumStreams);
    }

    public int GetLength() => 1 + QuicVarInt.GetLength(MaximumStreams);
}
