namespace AspNetQuicSteer.Client.Http3;

/// <summary>
/// DATA (RFC 9114 §7.2.1). Only the header is coded here: the payload is streamed by the caller, and a received
/// header is read with <see cref="Http3FrameHeader"/>.
/// </summary>
internal static class DataFrame
{
    /// <summary>Writes the header of a DATA frame carrying <paramref name="payloadLength"/> bytes.</summary>
    public static int Write(Span<byte> destination, long payloadLength)
        => Http3FrameHeader.Write(destination, Http3FrameType.Data, payloadLength);

    /// <summary>Length of the header only.</summary>
    public static int GetLength(long payloadLength) => Http3FrameHeader.GetLength(Http3FrameType.Data, payloadLength);
}
