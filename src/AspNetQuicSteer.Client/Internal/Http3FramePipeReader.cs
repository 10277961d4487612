using System.Buffers;
using System.IO.Pipelines;
using AspNetQuicSteer.Client.Http3;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Client.Internal;

/// <summary>Reads HTTP/3 frames (RFC 9114 §7.1: type, length, payload) and stream-type prefixes from a stream's pipe.</summary>
internal static class Http3FramePipeReader
{
    /// <summary>Control-stream frames are buffered whole; anything larger is refused (RFC 9114 §10.5: excessive load).</summary>
    public const int MaxBufferedFramePayload = 64 * 1024;

    /// <summary>The next frame header, or null at a clean end of stream. A stream that ends inside a frame is H3_FRAME_ERROR (§7.1).</summary>
    public static async ValueTask<(ulong Type, long Length)?> ReadHeaderAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            var sequence = new SequenceReader<byte>(buffer);
            if (Http3FrameHeader.TryRead(ref sequence, out ulong type, out long length))
            {
                reader.AdvanceTo(sequence.Position);
                return (type, length);
            }

            if (result.IsCompleted || result.IsCanceled)
            {
                bool empty = buffer.IsEmpty;
                reader.AdvanceTo(buffer.End);
                if (empty) return null;
                throw new Http3ProtocolViolationException(Http3ErrorCode.FrameError, "The stream ended inside a frame header (RFC 9114 §7.1).");
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>The stream type that starts a unidirectional stream (RFC 9114 §6.2), or null if the stream ended first.</summary>
    public static async ValueTask<ulong?> ReadStreamTypeAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            var sequence = new SequenceReader<byte>(buffer);
            if (TryReadVarInt(ref sequence, out ulong value))
            {
                reader.AdvanceTo(sequence.Position);
                return value;
            }

            if (result.IsCompleted || result.IsCanceled)
            {
                reader.AdvanceTo(buffer.End);
                return null;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Fills <paramref name="destination"/> with the next bytes of a frame payload.</summary>
    public static async ValueTask ReadPayloadAsync(PipeReader reader, Memory<byte> destination, CancellationToken cancellationToken)
    {
        int filled = 0;
        while (filled < destination.Length)
        {
            ReadResult result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            int take = (int)Math.Min(buffer.Length, destination.Length - filled);
            buffer.Slice(0, take).CopyTo(destination.Span[filled..]);
            filled += take;
            reader.AdvanceTo(buffer.GetPosition(take));
            if (filled < destination.Length && (result.IsCompleted || result.IsCanceled))
            {
                throw new Http3ProtocolViolationException(Http3ErrorCode.FrameError, "The stream ended inside a frame (RFC 9114 §7.1).");
            }
        }
    }

    /// <summary>Discards <paramref name="length"/> bytes: unknown and reserved frames are ignored (RFC 9114 §9).</summary>
    public static async ValueTask SkipAsync(PipeReader reader, long length, CancellationToken cancellationToken)
    {
        while (length > 0)
        {
            ReadResult result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            long take = Math.Min(buffer.Length, length);
            length -= take;
            reader.AdvanceTo(buffer.GetPosition(take));
            if (length > 0 && (result.IsCompleted || result.IsCanceled))
            {
                throw new Http3ProtocolViolationException(Http3ErrorCode.FrameError, "The stream ended inside a frame (RFC 9114 §7.1).");
            }
        }
    }

    private static bool TryReadVarInt(ref SequenceReader<byte> reader, out ulong value)
    {
        value = 0;
        if (!reader.TryPeek(out byte first)) return false;
        int length = QuicVarInt.LengthFromFirstByte(first);
        Span<byte> bytes = stackalloc byte[8];
        if (!reader.TryCopyTo(bytes[..length])) return false;
        reader.Advance(length);
        return QuicVarInt.TryRead(bytes[..length], out value, out _);
    }
}
