using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Client.Http3;

/// <summary>PUSH_PROMISE (RFC 9114 §7.2.5): Push ID (i) followed by an encoded field section (the rest of the payload).</summary>
internal static class PushPromiseFrame
{
    /// <summary>
    /// Parses the payload and returns the encoded field section (a slice of <paramref name="payload"/>).
    /// RFC 9114 §7.1: a payload ending inside the push ID is H3_FRAME_ERROR.
    /// </summary>
    public static ReadOnlySpan<byte> Parse(ReadOnlySpan<byte> payload, out ulong pushId)
    {
        int offset = 0;
        pushId = Http3FramePayload.ReadVarInt(payload, ref offset, "PUSH_PROMISE");
        return payload[offset..];
    }

    /// <summary>Writes the whole frame (header and payload).</summary>
    public static int Write(Span<byte> destination, ulong pushId, ReadOnlySpan<byte> fieldSection)
    {
        long payloadLength = QuicVarInt.GetLength(pushId) + (long)fieldSection.Length;
        int written = Http3FrameHeader.Write(destination, Http3FrameType.PushPromise, payloadLength);
        written += Http3FramePayload.WriteVarInt(destination[written..], pushId);
        if (!fieldSection.TryCopyTo(destination[written..]))
        {
            throw new ArgumentException("Destination is too small for the frame.", nameof(destination));
        }

        return written + fieldSection.Length;
    }

    /// <summary>Length of the whole frame.</summary>
    public static int GetLength(ulong pushId, int fieldSectionLength)
    {
        long payloadLength = QuicVarInt.GetLength(pushId) + (long)fieldSectionLength;
        return checked((int)(Http3FrameHeader.GetLength(Http3FrameType.PushPromise, payloadLength) + payloadLength));
    }
}
