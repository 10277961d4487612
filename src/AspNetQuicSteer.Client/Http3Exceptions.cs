using System.Net.Http;

namespace AspNetQuicSteer.Client;

/// <summary>
/// Base of the handler's failures. <see cref="HttpRequestException.HttpRequestError"/> is set too, so code written for
/// SocketsHttpHandler keeps working; the subtype tells the kind.
/// </summary>
public abstract class Http3RequestException : HttpRequestException
{
    private protected Http3RequestException(string message, HttpRequestError error, long? errorCode, Exception? inner)
        : base(error, message, inner)
    {
        ErrorCode = errorCode;
    }

    /// <summary>The HTTP/3 or QUIC error code involved (RFC 9114 §8.1, RFC 9000 §20), when there is one.</summary>
    public long? ErrorCode { get; }
}

/// <summary>The QUIC or TLS handshake failed: unreachable server, certificate rejected, ALPN h3 refused, handshake timeout.</summary>
public sealed class Http3HandshakeException : Http3RequestException
{
    internal Http3HandshakeException(string message, long? errorCode = null, Exception? inner = null)
        : base(message, HttpRequestError.SecureConnectionError, errorCode, inner)
    {
    }
}

/// <summary>The server broke HTTP/3 or QPACK (malformed frames, frames on the wrong stream, bad field sections).</summary>
public sealed class Http3ProtocolException : Http3RequestException
{
    internal Http3ProtocolException(string message, long errorCode, Exception? inner = null)
        : base(message, HttpRequestError.HttpProtocolError, errorCode, inner)
    {
    }
}

/// <summary>The server closed the connection or reset the request stream before the response was complete.</summary>
public sealed class Http3ConnectionResetException : Http3RequestException
{
    internal Http3ConnectionResetException(string message, long? errorCode = null, Exception? inner = null)
        : base(message, HttpRequestError.ResponseEnded, errorCode, inner)
    {
    }
}

/// <summary>A configured timeout expired (handshake, response headers, or a stalled response body); the stream was reset.</summary>
public sealed class Http3TimeoutException : Http3RequestException
{
    internal Http3TimeoutException(string message, Exception? inner = null)
        : base(message, HttpRequestError.Unknown, null, inner)
    {
    }
}
