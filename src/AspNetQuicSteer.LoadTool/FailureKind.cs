using System.Net.Http;
using System.Net.Sockets;
using System.Security.Authentication;
using AspNetQuicSteer.Client;

namespace AspNetQuicSteer.LoadTool;

/// <summary>
/// Why a request failed. Only transport and verification failures are failures: a response with any status code
/// (including 5xx) is a completed request, counted by status.
/// </summary>
internal enum FailureKind
{
    /// <summary>The connection could not be established: unreachable server, TLS or QUIC handshake, certificate, ALPN.</summary>
    Handshake,

    /// <summary>The server broke the HTTP protocol (malformed frames or fields).</summary>
    Protocol,

    /// <summary>The server closed the connection or reset the stream before the response was complete.</summary>
    ConnectionReset,

    /// <summary>The per-request timeout (--timeout) or one of the handler's timeouts expired.</summary>
    Timeout,

    /// <summary>--verify: the status was not 2xx, or the body did not have the expected length or pattern.</summary>
    Verify,

    /// <summary>Anything else.</summary>
    Other,
}

/// <summary>Names of <see cref="FailureKind"/> and the mapping of exceptions to kinds.</summary>
internal static class FailureKinds
{
    /// <summary>Number of <see cref="FailureKind"/> values; arrays indexed by kind have this length.</summary>
    public const int Count = 6;

    public static ReadOnlySpan<FailureKind> All =>
        [FailureKind.Handshake, FailureKind.Protocol, FailureKind.ConnectionReset, FailureKind.Timeout, FailureKind.Verify, FailureKind.Other];

    /// <summary>The name printed in the summary: handshake, protocol, connection-reset, timeout, verify, other.</summary>
    public static string Name(FailureKind kind) => kind switch
    {
        FailureKind.Handshake => "handshake",
        FailureKind.Protocol => "protocol",
        FailureKind.ConnectionReset => "connection-reset",
        FailureKind.Timeout => "timeout",
        FailureKind.Verify => "verify",
        _ => "other",
    };

    /// <summary>
    /// Maps a request's exception to a kind. Cancellation is decided by the caller (our own timeout is
    /// <see cref="FailureKind.Timeout"/>, the end of the run is not a failure). Order of evidence: the HTTP/3 handler's
    /// typed exceptions anywhere in the chain; then, for SocketsHttpHandler, HTTP/2 error codes, TLS and socket errors,
    /// <see cref="HttpRequestError"/>; a remaining <see cref="IOException"/> is a broken connection.
    /// </summary>
    public static FailureKind Classify(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);

        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case Http3HandshakeException:
                    return FailureKind.Handshake;
                case Http3ProtocolException:
                    return FailureKind.Protocol;
                case Http3ConnectionResetException:
                    return FailureKind.ConnectionReset;
                case Http3TimeoutException:
                case TimeoutException:
                    return FailureKind.Timeout;
            }
        }

        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case HttpProtocolException protocol:
                    return ClassifyHttp2ErrorCode(protocol.ErrorCode);
                case AuthenticationException:
                    return FailureKind.Handshake;
                case SocketException socket:
                    return socket.SocketErrorCode switch
                    {
                        SocketError.ConnectionRefused or SocketError.HostUnreachable or SocketError.NetworkUnreachable
                            or SocketError.HostNotFound or SocketError.HostDown or SocketError.TryAgain
                            or SocketError.AddressNotAvailable => FailureKind.Handshake,
                        _ => FailureKind.ConnectionReset,
                    };
            }
        }

        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            HttpRequestError? error = e switch
            {
                HttpRequestException request => request.HttpRequestError,
                HttpIOException io => io.HttpRequestError,
                _ => null,
            };

            switch (error)
            {
                case HttpRequestError.NameResolutionError or HttpRequestError.ConnectionError
                    or HttpRequestError.SecureConnectionError or HttpRequestError.VersionNegotiationError
                    or HttpRequestError.ProxyTunnelError:
                    return FailureKind.Handshake;
                case HttpRequestError.HttpProtocolError or HttpRequestError.InvalidResponse:
                    return FailureKind.Protocol;
                case HttpRequestError.ResponseEnded:
                    return FailureKind.ConnectionReset;
            }
        }

        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is IOException)
            {
                return FailureKind.ConnectionReset;
            }
        }

        return FailureKind.Other;
    }

    /// <summary>
    /// HTTP/2 error codes (RFC 9113 §7) as SocketsHttpHandler reports them: codes that say the peer found the protocol
    /// broken are <see cref="FailureKind.Protocol"/>; the others (INTERNAL_ERROR, CANCEL, REFUSED_STREAM, NO_ERROR...)
    /// mean the server gave up on the stream or connection, which is <see cref="FailureKind.ConnectionReset"/>.
    /// </summary>
    private static FailureKind ClassifyHttp2ErrorCode(long errorCode) => errorCode switch
    {
        0x1 /* PROTOCOL_ERROR */ or 0x3 /* FLOW_CONTROL_ERROR */ or 0x6 /* FRAME_SIZE_ERROR */
            or 0x9 /* COMPRESSION_ERROR */ or 0xc /* INADEQUATE_SECURITY */ or 0xd /* HTTP_1_1_REQUIRED */ => FailureKind.Protocol,
        _ => FailureKind.ConnectionReset,
    };

    /// <summary>A one-line description of a failure for the summary: type and message of the exception and its causes.</summary>
    public static string Describe(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        System.Text.StringBuilder text = new();
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (text.Length > 0)
            {
                text.Append(" ---> ");
            }

            text.Append(e.GetType().Name).Append(": ").Append(e.Message.ReplaceLineEndings(" "));
        }

        return text.ToString();
    }
}
