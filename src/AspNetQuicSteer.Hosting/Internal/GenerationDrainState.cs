using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace AspNetQuicSteer.Hosting.Internal;

/// <summary>
/// Whether this generation drains, and Kestrel's TCP connections (HTTP/1.1, HTTP/2), which the QUIC listener does not
/// see. A connection middleware on every endpoint tracks them (<see cref="TrackAsync"/>); when draining begins each is
/// asked to close gracefully: Kestrel sends HTTP/2 GOAWAY (RFC 9113 §6.8) and ends HTTP/1.1 connections after the
/// response in progress with <c>Connection: close</c> (RFC 9112 §9.6), idle ones at once.
/// </summary>
internal sealed class GenerationDrainState
{
    private readonly ConcurrentDictionary<ConnectionContext, IConnectionLifetimeNotificationFeature> _tcpConnections = new();
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

        _tcpConnections[connection] = lifetime;
        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            _tcpConnections.TryRemove(connection, out _);
        }
    }

    /// <summary>Starts draining; returns the TCP connections asked to close (0 when already draining).</summary>
    public int BeginDrain()
    {
        if (_draining) return 0;
        _draining = true;
        int asked = 0;
        foreach (IConnectionLifetimeNotificationFeature lifetime in _tcpConnections.Values)
        {
            lifetime.RequestClose();
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
        foreach (ConnectionContext connection in _tcpConnections.Keys)
        {
            connection.Abort(new ConnectionAbortedException("The generation's drain timeout expired."));
            aborted++;
        }

        return aborted;
    }
}
