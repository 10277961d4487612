namespace AspNetQuicSteer.Client.Http3;

/// <summary>CANCEL_PUSH (RFC 9114 §7.2.3): one varint, the push ID.</summary>
internal static class CancelPushFrame
{
    /// <summary>Parses the payload. RFC 9114 §7.1: anything but exactly one varint is H3_FRAME_ERROR.</summary>
    public static ulong Parse(ReadOnlySpan<byte> payload) => Http3FramePayload.ReadSingleVarInt(payload, "CANCEL_PUSH");

    /// <summary>Writes the whole frame (header and payload).</summary>
    public static int Write(Span<byte> destination, ulong pushId)
        => Http3FramePayload.WriteSingleVarIntFrame(destination, Http3FrameType.CancelPush, pushId);

    /// <summary>Length of the whole frame.</summary>
    public static int GetLength(ulong pushId) => Http3FramePayload.GetSingleVarIntFrameLength(Http3FrameType.CancelPush, pushId);
}
