using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Frames;

/// <summary>
/// CONNECTION_CLOSE (RFC 9000 §19.19): type 0x1c carries a transport error code and the type of the
/// frame that triggered it; type 0x1d carries an application error code. The reason phrase is opaque
/// bytes that SHOULD be UTF-8; it is not validated.
/// </summary>
internal readonly ref struct ConnectionCloseFrame
{
    public ConnectionCloseFrame(bool isApplicationError, ulong errorCode, ulong triggeringFrameType, ReadOnlySpan<byte> reasonPhrase)
    {
        if (isApplicationError && triggeringFrameType != 0)
        {
            throw new ArgumentException("Application CONNECTION_CLOSE (0x1d) has no Frame Type field.", nameof(triggeringFrameType));
        }

        IsApplicationError = isApplicationError;
        ErrorCode = errorCode;
        TriggeringFrameType = triggeringFrameType;
        ReasonPhrase = reasonPhrase;
    }

    /// <summary>True for type 0x1d.</summary>
    public bool IsApplicationError { get; }

    public ulong ErrorCode { get; }

    /// <summary>Type 0x1c only: the frame type that caused the error, 0 when unknown.</summary>
    public ulong TriggeringFrameType { get; }

    public ReadOnlySpan<byte> ReasonPhrase { get; }

    public static ConnectionCloseFrame Parse(scoped ref QuicReader reader, ulong frameType)
    {
        bool isApplication = frameType == (ulong)FrameType.ConnectionCloseApplication;
        ulong errorCode = reader.ReadVarInt();
        ulong triggeringFrameType = isApplication ? 0 : reader.ReadVarInt();
        ReadOnlySpan<byte> reason = reader.ReadVarIntPrefixedBytes();
        return new ConnectionCloseFrame(isApplication, errorCode, triggeringFrameType, reason);
    }

    public void Write(ref QuicWriter writer)
    {
        writer.WriteVarInt((ulong)(IsApplicationError ? FrameType.ConnectionCloseApplication : FrameType.ConnectionCloseTransport));
        writer.WriteVarInt(ErrorCode);
        if (!IsApplicationError)
        {
            writer.WriteVarInt(TriggeringFrameType);
        }

        writer.WriteVarIntPrefixedBytes(ReasonPhrase);
    }

    public int GetLength()
        => 1 + QuicVarInt.GetLength(ErrorCode)
            + (IsApplicationError ? 0 : QuicVarInt.GetLength(TriggeringFrameType))
            + QuicVarInt.GetLength((ulong)ReasonPhrase.Length) + ReasonPhrase.Length;
}
