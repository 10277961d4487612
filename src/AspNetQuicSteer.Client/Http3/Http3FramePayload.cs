using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Client.Http3;

/// <summary>Varint plumbing shared by the control-frame codecs.</summary>
internal static class Http3FramePayload
{
    /// <summary>Reads one varint of a payload; RFC 9114 §7.1: a payload ending inside a field is H3_FRAME_ERROR.</summary>
    public static ulong ReadVarInt(ReadOnlySpan<byte> payload, ref int offset, string frameName)
    {
        if (!QuicVarInt.TryRead(payload[offset..], out ulong value, out int read))
        {
            throw new Http3ProtocolViolationException(Http3ErrorCode.FrameError, $"{frameName} payload is truncated.");
        }

        offset += read;
        return value;
    }

    /// <summary>
    /// Reads a payload that is exactly one varint (GOAWAY, CANCEL_PUSH, MAX_PUSH_ID). RFC 9114 §7.1: extra bytes
    /// after the identified fields, or a payload ending before them, are H3_FRAME_ERROR.
    /// </summary>
    public static ulong ReadSingleVarInt(ReadOnlySpan<byte> payload, string frameName)
    {
        int offset = 0;
        ulong value = ReadVarInt(payload, ref offset, frameName);
        if (offset != payload.Length)
        {
            throw new Http3ProtocolViolationException(Http3ErrorCode.FrameError, $"{frameName} payload has trailing bytes.");
        }

        return value;
    }

    /// <summary>Writes a whole frame whose payload is one varint.</summary>
    public static int WriteSingleVarIntFrame(Span<byte> destination, ulong type, ulong value)
    {
        int payloadLength = QuicVarInt.GetLength(value);
        int written = Http3FrameHeader.Write(destination, type, payloadLength);
        return written + WriteVarInt(destination[written..], value);
    }

    public static int GetSingleVarIntFrameLength(ulong type, ulong value)
    {
        int payloadLength = QuicVarInt.GetLength(value);
        return Http3FrameHeader.GetLength(type, payloadLength) + payloadLength;
    }

    public static int WriteVarInt(Span<byte> destination, ulong value)
    {
        if (!QuicVarInt.TryWrite(destination, value, out int written))
        {
            throw new ArgumentException("Destination is too small for the frame.", nameof(destination));
        }

        return written;
    }
}
