namespace AspNetQuicSteer.Client.Http3;

/// <summary>MAX_PUSH_ID (RFC 9114 §7.2.7): one varint, the largest push ID the client accepts.</summary>
internal static class MaxPushIdFrame
{
    /// <summary>Parses the payload. RFC 9114 §7.1: anything but exactly one varint is H3_FRAME_ERROR.</summary>
    public static ulong Parse(ReadOnlySpan<byte> payload) => Http3FramePayload.ReadSingleVarInt(payload, "MAX_PUSH_ID");

    /// <summary>Writes the whole frame (header and payload).</summary>
    public static int Write(Span<byte> destination, ulong pushId)
        => Http3FramePayload.WriteSingleVarIntFrame(destination, Http3FrameType.MaxPushId, pushId);

    /// <summary>Length of the whole frame.</summary>
    public static int GetLength(ulong pushId) => Http3FramePayload.GetSingleVarIntFrameLength(Http3FrameType.MaxPushId, pushId);
}
