namespace AspNetQuicSteer.Client.Http3;

/// <summary>
/// GOAWAY (RFC 9114 §7.2.6): one varint, a stream ID (from a server) or a push ID (from a client). Whether the ID
/// is of the right kind and does not increase (§5.2, H3_ID_ERROR) is the connection's business, not the codec's.
/// </summary>
internal static class GoAwayFrame
{
    /// <summary>Parses the payload. RFC 9114 §7.1: anything but exactly one varint is H3_FRAME_ERROR.</summary>
    public static ulong Parse(ReadOnlySpan<byte> payload) => Http3FramePayload.ReadSingleVarInt(payload, "GOAWAY");

    /// <summary>Writes the whole frame (header and payload).</summary>
    public static int Write(Span<byte> destination, ulong id)
        => Http3FramePayload.WriteSingleVarIntFrame(destination, Http3FrameType.GoAway, id);

    /// <summary>Length of the whole frame.</summary>
    public static int GetLength(ulong id) => Http3FramePayload.GetSingleVarIntFrameLength(Http3FrameType.GoAway, id);
}
