using System.Collections.Concurrent;
using System.Net;
using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace AspNetQuicSteer.Kestrel.Internal;

/// <summary>
/// One UDP socket's loop thread (<see cref="QuicEndpointDriver"/>) and the connection contexts it drives. The server
/// side (<see cref="QuicSteeringConnectionListener"/>) accepts connections; the client side (the HTTP/3 handler) opens
/// them. Both share the connection and stream contexts, so pipes, flow control and aborts behave the same.
/// </summary>
internal abstract class QuicSteeringLoop
{
    private readonly ConcurrentQueue<Action> _loopWork = new();

    private protected QuicSteeringLoop(QuicSteeringTransportOptions options, ILogger logger, QuicSteeringMetrics? metrics)
    {
        Options = options;
        Logger = logger;
        Metrics = metrics;
    }

    internal QuicSteeringTransportOptions Options { get; }

    internal ILogger Logger { get; }

    /// <summary>Transport meter of the server; null on the client.</summary>
    internal QuicSteeringMetrics? Metrics { get; }

    internal abstract QuicEndpointDriver Driver { get; }

    internal abstract IPEndPoint BoundEndPoint { get; }

    /// <summary>Kestrel's TLS selection for server connections; null on the client.</summary>
    internal virtual TlsConnectionCallbackOptions? TlsOptions => null;

    internal TimeSpan Now => Driver.Now;

    /// <summary>Connections on this loop; loop thread only.</summary>
    private protected List<QuicSteeringConnectionContext> Connections { get; } = [];

    /// <summary>Queues work for the loop thread (runs at the start of its next turn, in order).</summary>
    internal void Post(Action work)
    {
        _loopWork.Enqueue(work);
        Driver.Wake();
    }

    internal Task<T> InvokeAsync<T>(Func<T> work) => Driver.InvokeAsync(work);

    /// <summary>A connection finished its handshake.</summary>
    internal abstract void LoopPublish(QuicSteeringConnectionContext connection);

    /// <summary>A connection closed before its handshake completed.</summary>
    internal virtual void LoopOnHandshakeFailed(QuicSteeringConnectionContext connection, QuicConnectionError? error)
    {
    }

    /// <summary>Runs posted work, then one turn of every connection; closed connections are dropped.</summary>
    private protected void LoopRunTurn(TimeSpan now)
    {
        for (int count = _loopWork.Count; count > 0 && _loopWork.TryDequeue(out Action? work); count--)
        {
            RunGuarded(work);
        }

        LoopOnTurnStarted(now);
        List<QuicSteeringConnectionContext> connections = Connections;
        for (int i = connections.Count - 1; i >= 0; i--)
        {
            QuicSteeringConnectionContext connection = connections[i];
            bool alive;
            try
            {
                alive = connection.LoopOnTurn(now);
            }
#pragma warning disable CA1031 // Invariant 7: one connection's fault never takes the loop (and every other connection) down.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                QuicSteeringLog.ConnectionFaulted(Logger, connection.ConnectionId, ex);
                connection.Quic.Close(now, 0x102, "Internal error."); // H3_INTERNAL_ERROR, RFC 9114 §8.1
                alive = true;
            }

            if (!alive)
            {
                connections[i] = connections[^1];
                connections.RemoveAt(connections.Count - 1);
            }
        }
    }

    /// <summary>Per-turn work before the connections run (the listener accepts new ones here).</summary>
    private protected virtual void LoopOnTurnStarted(TimeSpan now)
    {
    }

    private void RunGuarded(Action work)
    {
        try
        {
            work();
        }
#pragma warning disable CA1031 // Invariant 7: see LoopRunTurn.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            QuicSteeringLog.ConnectionFaulted(Logger, "(posted work)", ex);
        }
    }
}
