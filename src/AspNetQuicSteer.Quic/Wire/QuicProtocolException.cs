namespace AspNetQuicSteer.Quic.Wire;

/// <summary>
/// The one typed error for malformed or illegal peer input. It carries the transport error code that a
/// CONNECTION_CLOSE would report (RFC 9000 §20.1), and the frame type that triggered it when known
/// (RFC 9000 §19.19). Anything else escaping a parser is a bug.
/// </summary>
internal sealed class QuicProtocolException : Exception
{
    public QuicProtocolException(TransportErrorCode errorCode, string message, ulong frameType = 0)
        : base(message)
    {
        ErrorCode = errorCode;
        FrameType = frameType;
    }

    public QuicProtocolException()
        : this(TransportErrorCode.ProtocolViolation, "QUIC protocol violation.")
    {
    }

    public QuicProtocolException(string message)
        : this(TransportErrorCode.ProtocolViolation, message)
    {
    }

    public QuicProtocolException(string message, Exception innerException)
        : base(message, innerException)
    {
        ErrorCode = TransportErrorCode.ProtocolViolation;
    }

    public TransportErrorCode ErrorCode { get; }

    public ulong FrameType { get; }

    public static QuicProtocolException FrameEncoding(string message, ulong frameType = 0)
        => new(TransportErrorCode.FrameEncodingError, message, frameType);
}
