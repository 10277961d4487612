using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace AspNetQuicSteer.Hosting.Internal;

/// <summary>
/// Whether this generation drains, and Kestrel's TCP connections (HTTP/1.1, HTTP/2), which the QUIC listener does not
/// see. A connection middleware on every endpoint tracks them (<see cref="TrackAsync"/>); when draining begins each one
/// that has served a request is asked to close gracefully: Kestrel sends HTTP/2 GOAWAY (RFC 9113 §6.8) and ends
/// HTTP/1.1 connections after the response in progress with <c>Connection: close</c> (RFC 9112 §9.6), idle ones at
/// once. A connection that has not served a request yet is left to the drain middleware: closing it before its first
/// request would fail a request the client cannot retry (it never reused the connection), and both generations accept
/// on the shared listener, so fresh connections reach a draining generation.
/// </summary>
internal sealed class GenerationDrainState
{
    private readonly ConcurrentDictionary<string, TcpConnection> _tcpConnections = new(StringComparer.Ordinal);
    private volatile bool _draining;

    public bool IsDraining => _draining;

    public int TcpConnections => _tcpConnections.Count;

    public async Task TrackAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        if (connection.Features.Get<IConnectionLifetimeNotificationFeature>() is not { } lifetime)
        {
            await next(connection).ConfigureAwait(false);
            return;
        }

        string id = connection.ConnectionId;
        _tcpConnections[id] = new TcpConnection(connection, lifetime);
        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            _tcpConnections.TryRemove(id, out _);
        }
    }

    /// <summary>A request reached the app on connection <paramref name="connectionId"/> (the drain middleware reports it).</summary>
    public void OnRequest(string connectionId)
    {
        if (_tcpConnections.TryGetValue(connectionId, out TcpConnection? connection)) connection.Served = true;
    }

    /// <summary>Starts draining; returns the TCP connections asked to close (0 when already draining).</summary>
    public int BeginDrain()
    {
        if (_draining) return 0;
        _draining = true;
        int asked = 0;
        foreach (TcpConnection connection in _tcpConnections.Values)
        {
            if (!connection.Served) continue;
            connection.Lifetime.RequestClose();
            asked++;
        }

        return asked;
    }

    /// <summary>A rollback made this generation active again: requests no longer close their connections.</summary>
    public void EndDrain() => _draining = false;

    /// <summary>The drain timeout expired: aborts the TCP connections still open; returns how many.</summary>
    public int AbortTcpConnections()
    {
        int aborted = 0;
        foreach (TcpConnection connection in _tcpConnections.Values)
        {
            connection.Context.Abort(new ConnectionAbortedException("The generation's drain timeout expired."));
            aborted++;
        }

        return aborted;
    }

    private sealed class TcpConnection(ConnectionContext context, IConnectionLifetimeNotificationFeature lifetime)
    {
        public ConnectionContext Context { get; } = context;

        public IConnectionLifetimeNotificationFeature Lifetime { get; } = lifetime;

        /// <summary>Set once a request reached the app on it; read when draining begins.</summary>
        public volatile bool Served;
    }
}
