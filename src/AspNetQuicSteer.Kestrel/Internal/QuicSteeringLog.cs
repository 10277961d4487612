using System.Net;
using Microsoft.Extensions.Logging;

namespace AspNetQuicSteer.Kestrel.Internal;

/// <summary>Every log line of the transport, source-generated; event IDs are stable (dashboards and alerts key on them).</summary>
internal static partial class QuicSteeringLog
{
    [LoggerMessage(1, LogLevel.Information, "HTTP/3 (QUIC) listening on {EndPoint} (GSO {Gso}, GRO {Gro}, batched I/O {Native}).", EventName = "ListenerBound")]
    public static partial void ListenerBound(ILogger logger, EndPoint endPoint, bool gso, bool gro, bool native);

    [LoggerMessage(2, LogLevel.Debug, "Listener on {EndPoint} unbound: new connections are refused, existing ones continue.", EventName = "ListenerUnbound")]
    public static partial void ListenerUnbound(ILogger logger, EndPoint endPoint);

    [LoggerMessage(3, LogLevel.Debug, "Listener on {EndPoint} disposed ({Connections} connections left; {Datagrams} datagrams in by {ReceiveCalls} receive calls, {DatagramsSent} out by {SendCalls} send calls, {Turns} loop turns).", EventName = "ListenerDisposed")]
    public static partial void ListenerDisposed(ILogger logger, EndPoint endPoint, int connections, long datagrams, long receiveCalls, long datagramsSent, long sendCalls, long turns);

    [LoggerMessage(4, LogLevel.Debug, "Connection {ConnectionId} from {RemoteEndPoint} started its handshake.", EventName = "ConnectionStarted")]
    public static partial void ConnectionStarted(ILogger logger, string connectionId, EndPoint remoteEndPoint);

    [LoggerMessage(5, LogLevel.Debug, "Connection {ConnectionId} completed its handshake: SNI {ServerName}, {CipherSuite}, RTT {RttMilliseconds} ms.", EventName = "HandshakeCompleted")]
    public static partial void HandshakeCompleted(ILogger logger, string connectionId, string? serverName, string? cipherSuite, double rttMilliseconds);

    [LoggerMessage(6, LogLevel.Debug, "Connection {ConnectionId} failed its handshake: {Reason}", EventName = "HandshakeFailed")]
    public static partial void HandshakeFailed(ILogger logger, string connectionId, string reason);

    [LoggerMessage(7, LogLevel.Warning, "Connection {ConnectionId}: choosing the TLS configuration for SNI '{ServerName}' failed.", EventName = "TlsSelectionFailed")]
    public static partial void TlsSelectionFailed(ILogger logger, string connectionId, string? serverName, Exception exception);

    [LoggerMessage(8, LogLevel.Debug, "Connection {ConnectionId} closed by {Closer}: {ErrorKind} 0x{ErrorCode:x} '{Reason}' ({PacketsSent} packets out, {PacketsLost} lost, cwnd {CongestionWindow} B, srtt {SmoothedRttMs} ms, min rtt {MinRttMs} ms).", EventName = "ConnectionClosed")]
    public static partial void ConnectionClosed(ILogger logger, string connectionId, string closer, string errorKind, ulong errorCode, string reason, long packetsSent, long packetsLost,
        long? congestionWindow, double smoothedRttMs, double minRttMs);

    [LoggerMessage(9, LogLevel.Debug, "Connection {ConnectionId} aborted by the application with 0x{ErrorCode:x}: {Reason}", EventName = "ConnectionAborted")]
    public static partial void ConnectionAborted(ILogger logger, string connectionId, long errorCode, string reason);

    [LoggerMessage(10, LogLevel.Debug, "Stream {StreamId} of {ConnectionId} aborted by the application with 0x{ErrorCode:x}.", EventName = "StreamAborted")]
    public static partial void StreamAborted(ILogger logger, string connectionId, ulong streamId, long errorCode);

    [LoggerMessage(11, LogLevel.Debug, "Stream {StreamId} of {ConnectionId}: the peer {Action} with 0x{ErrorCode:x}.", EventName = "StreamPeerAbort")]
    public static partial void StreamPeerAbort(ILogger logger, string connectionId, ulong streamId, string action, ulong errorCode);

    [LoggerMessage(12, LogLevel.Critical, "The QUIC I/O loop for {EndPoint} faulted; its connections are lost.", EventName = "LoopFaulted")]
    public static partial void LoopFaulted(ILogger logger, EndPoint endPoint, Exception exception);

    [LoggerMessage(13, LogLevel.Error, "Connection {ConnectionId}: unexpected transport error; the connection is closed.", EventName = "ConnectionFaulted")]
    public static partial void ConnectionFaulted(ILogger logger, string connectionId, Exception exception);

    [LoggerMessage(14, LogLevel.Debug, "Connection {ConnectionId} did not complete its handshake within {Timeout}.", EventName = "HandshakeTimeout")]
    public static partial void HandshakeTimedOut(ILogger logger, string connectionId, TimeSpan timeout);

    [LoggerMessage(15, LogLevel.Information, "Port steering on {EndPoint}: {Message}", EventName = "Steering")]
    public static partial void Steering(ILogger logger, EndPoint endPoint, string message);

    [LoggerMessage(16, LogLevel.Information, "Generation {Generation} on {EndPoint} is now {State} ({Dataplane}).", EventName = "GenerationStateChanged")]
    public static partial void GenerationStateChanged(ILogger logger, int generation, EndPoint endPoint, string state, string dataplane);

    [LoggerMessage(17, LogLevel.Information, "Health probe socket of {EndPoint} on {ProbeEndPoint}: the health gate reaches this generation there before it takes over the port.", EventName = "HealthProbeBound")]
    public static partial void HealthProbeBound(ILogger logger, EndPoint endPoint, EndPoint probeEndPoint);
}
