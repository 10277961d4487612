using System.Net;
using Microsoft.Extensions.Logging;

namespace AspNetQuicSteer.Client.Internal;

/// <summary>The client's log messages (category AspNetQuicSteer.Client); event IDs are stable.</summary>
internal static partial class QuicSteeringClientLog
{
    [LoggerMessage(200, LogLevel.Debug, "HTTP/3 connection {ConnectionId} opened to {RemoteEndPoint} (server name {ServerName}, {StreamCapacity} concurrent streams).")]
    public static partial void ConnectionOpened(ILogger logger, string connectionId, EndPoint remoteEndPoint, string serverName, int streamCapacity);

    [LoggerMessage(201, LogLevel.Debug, "HTTP/3 connection {ConnectionId} closing: {Reason}")]
    public static partial void ConnectionClosing(ILogger logger, string connectionId, string reason);

    [LoggerMessage(202, LogLevel.Debug, "HTTP/3 connection {ConnectionId} closed.")]
    public static partial void ConnectionClosed(ILogger logger, string connectionId);

    [LoggerMessage(203, LogLevel.Information, "HTTP/3 connection {ConnectionId} received GOAWAY({StreamId}); new requests go to another connection.")]
    public static partial void GoAwayReceived(ILogger logger, string connectionId, long streamId);

    [LoggerMessage(204, LogLevel.Warning, "HTTP/3 connection {ConnectionId} closed with error 0x{ErrorCode:x}: {Reason}")]
    public static partial void ConnectionError(ILogger logger, string connectionId, long errorCode, string reason);

    [LoggerMessage(205, LogLevel.Information, "Retrying {Method} {Uri} on a new connection (attempt {Attempt}): {Reason}")]
    public static partial void RequestRetried(ILogger logger, string method, Uri? uri, int attempt, string reason);

    [LoggerMessage(206, LogLevel.Warning, "Cannot resolve {Host}: {Reason}")]
    public static partial void ResolveFailed(ILogger logger, string host, string reason);
}
