using System.Diagnostics.CodeAnalysis;
using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Frames;

/// <summary>
/// Walks the frames of a decrypted packet payload. <see cref="TryReadFrameType"/> reads and checks
/// the next frame type (RFC 9000 §12.4); the caller then switches on
/// <see cref="FrameTypes.Normalize"/> and calls that frame's <c>Parse(ref reader.Reader, type)</c>,
/// which leaves the reader at the next frame. Allocation-free.
/// <code>
/// var frames = new FrameReader(payload, EncryptionLevel.OneRtt, datagramFramesAccepted: false);
/// while (frames.TryReadFrameType(out ulong type))
/// {
///     switch (FrameTypes.Normalize(type))
///     {
///         case FrameType.Stream: var stream = StreamFrame.Parse(ref frames.Reader, type); break;
///         ...
///     }
/// }
/// </code>
/// </summary>
internal ref struct FrameReader
{
    private readonly EncryptionLevel _level;
    private readonly bool _datagramFramesAccepted;
    private QuicReader _reader;
    private bool _sawFrame;

    /// <param name="payload">The packet payload after packet protection was removed.</param>
    /// <param name="level">The packet's encryption level, for the RFC 9000 §12.4 Table 3 permissions.</param>
    /// <param name="datagramFramesAccepted">
    /// Whether this endpoint advertised max_datagram_frame_size &gt; 0; RFC 9221 §3: otherwise a DATAGRAM
    /// frame is a PROTOCOL_VIOLATION.
    /// </param>
    public FrameReader(ReadOnlySpan<byte> payload, EncryptionLevel level, bool datagramFramesAccepted)
    {
        _reader = new QuicReader(payload, TransportErrorCode.FrameEncodingError);
        _level = level;
        _datagramFramesAccepted = datagramFramesAccepted;
        _sawFrame = false;
    }

    /// <summary>The underlying reader, positioned just after the frame type; pass it to the frame's Parse.</summary>
    [UnscopedRef]
    public ref QuicReader Reader => ref _reader;

    /// <summary>True once an ack-eliciting frame was read (RFC 9000 §13.2.1).</summary>
    public bool IsAckEliciting { get; private set; }

    /// <summary>False once a non-probing frame was read (RFC 9000 §9.1: a packet of only probing frames is a probing packet).</summary>
    public bool IsProbingOnly { get; private set; } = true;

    /// <summary>
    /// Reads the next frame type. False at the end of the payload. Throws
    /// <see cref="QuicProtocolException"/> for an empty payload, an unknown or non-minimally encoded
    /// type, or a type not allowed at this encryption level.
    /// </summary>
    public bool TryReadFrameType(out ulong frameType)
    {
        if (_reader.IsEmpty)
        {
            frameType = 0;
            if (!_sawFrame)
            {
                // RFC 9000 §12.4: a packet containing no frames is a PROTOCOL_VIOLATION.
                throw new QuicProtocolException(TransportErrorCode.ProtocolViolation, "Packet payload contains no frames.");
            }

            return false;
        }

        _sawFrame = true;
        _reader.FrameType = 0;
        frameType = ReadFrameType(ref _reader);
        _reader.FrameType = frameType;

        if (!FrameTypes.IsAllowed(frameType, _level))
        {
            // RFC 9000 §12.4: a frame in a packet type that does not permit it is a PROTOCOL_VIOLATION.
            throw new QuicProtocolException(TransportErrorCode.ProtocolViolation, $"Frame type 0x{frameType:x} is not allowed at {_level}.", frameType);
        }

        if (!_datagramFramesAccepted && frameType is (ulong)FrameType.Datagram or (ulong)FrameType.DatagramWithLength)
        {
            // RFC 9221 §3: DATAGRAM without having advertised max_datagram_frame_size.
            throw new QuicProtocolException(TransportErrorCode.ProtocolViolation, "DATAGRAM frame received but not negotiated.", frameType);
        }

        IsAckEliciting |= FrameTypes.IsAckEliciting(frameType);
        IsProbingOnly &= FrameTypes.IsProbing(frameType);
        return true;
    }

    /// <summary>
    /// Reads and validates one frame type: RFC 9000 §12.4, unknown types are a FRAME_ENCODING_ERROR and
    /// a type encoded longer than necessary may be (and here is) a PROTOCOL_VIOLATION.
    /// </summary>
    public static ulong ReadFrameType(ref QuicReader reader)
    {
        int start = reader.Position;
        ulong frameType = reader.ReadVarInt();
        if (reader.Position - start != QuicVarInt.GetLength(frameType))
        {
            throw new QuicProtocolException(TransportErrorCode.ProtocolViolation, "Frame type is not minimally encoded.", frameType);
        }

        if (!FrameTypes.IsKnown(frameType))
        {
            throw QuicProtocolException.FrameEncoding($"Unknown frame type 0x{frameType:x}.", frameType);
        }

        return frameType;
    }
}
