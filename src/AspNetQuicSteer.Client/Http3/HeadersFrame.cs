namespace AspNetQuicSteer.Client.Http3;

/// <summary>
/// HEADERS (RFC 9114 §7.2.2). Only the header is coded here: the payload is a QPACK field section, written with
/// <see cref="QpackEncoder"/> and read with <see cref="QpackDecoder"/>.
/// </summary>
internal static class HeadersFrame
{
    /// <summary>Writes the header of a HEADERS frame whose field section is <paramref name="payloadLength"/> bytes.</summary>
    public static int Write(Span<byte> destination, long payloadLength)
        => Http3FrameHeader.Write(destination, Http3FrameType.Headers, payloadLength);

    /// <summary>Length of the header only.</summary>
    public static int GetLength(long payloadLength) => Http3FrameHeader.GetLength(Http3FrameType.Headers, payloadLength);
}
