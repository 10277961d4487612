namespace AspNetQuicSteer.Client.Http3;

/// <summary>
/// The one exception HTTP/3 and QPACK parsers throw on bad peer input. It carries the error code the
/// connection (or stream) is closed with (RFC 9114 §8, RFC 9204 §6); anything else escaping a parser is a bug.
/// </summary>
internal sealed class Http3ProtocolViolationException : Exception
{
    public Http3ProtocolViolationException(Http3ErrorCode errorCode, string message)
        : base(message)
    {
        ErrorCode = errorCode;
    }

    public Http3ProtocolViolationException()
        : this(Http3ErrorCode.GeneralProtocolError, "HTTP/3 protocol violation.")
    {
    }

    public Http3ProtocolViolationException(string message)
        : this(Http3ErrorCode.GeneralProtocolError, message)
    {
    }

    public Http3ProtocolViolationException(string message, Exception innerException)
        : base(message, innerException)
    {
        ErrorCode = Http3ErrorCode.GeneralProtocolError;
    }

    public Http3ErrorCode ErrorCode { get; }
}
