using System.Collections.Concurrent;
using System.Net.Sockets;
using AspNetQuicSteer.Kestrel;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AspNetQuicSteer.Client.Internal;

/// <summary>The handler's state: UDP endpoints (created on first use), one pool per origin, counters, the idle sweep.</summary>
internal sealed class Http3ClientHandlerCore : IAsyncDisposable
{
    private readonly ConcurrentDictionary<(string Host, int Port), Http3ConnectionPool> _pools = new();
    private readonly object _endpointsLock = new();
    private readonly List<Http3ClientEndpoint> _endpoints = [];
    private readonly QuicSteeringTransportOptions _transport;
    private readonly ITimer _idleSweep;
    private int _nextEndpoint;
    private int _disposed;

    public Http3ClientHandlerCore(QuicSteeringHttp3HandlerOptions options)
    {
        Options = options;
        Logger = (ILogger?)options.LoggerFactory?.CreateLogger("AspNetQuicSteer.Client") ?? NullLogger.Instance;
        _transport = new QuicSteeringTransportOptions
        {
            // The handshake is bounded by ConnectTimeout in the endpoint; the transport's own limit is only a backstop.
            HandshakeTimeout = options.ConnectTimeout + TimeSpan.FromSeconds(1),
            IdleTimeout = options.IdleTimeout,
            DefaultStreamErrorCode = (long)Http3.Http3ErrorCode.RequestCancelled,
            DefaultCloseErrorCode = (long)Http3.Http3ErrorCode.NoError,
            SocketReceiveBufferSize = 4 * 1024 * 1024,
            SocketSendBufferSize = 4 * 1024 * 1024,
            TimeProvider = options.TimeProvider,
        };
        TimeSpan sweep = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond * 100, Math.Min(TimeSpan.TicksPerSecond, options.PooledConnectionIdleTimeout.Ticks / 4)));
        _idleSweep = options.TimeProvider.CreateTimer(static s => ((Http3ClientHandlerCore)s!).CloseIdleConnections(), this, sweep, sweep);
    }

    public QuicSteeringHttp3HandlerOptions Options { get; }

    public ILogger Logger { get; }

    public Http3HandlerCounters Counters { get; } = new();

    public Http3ConnectionPool GetPool(Uri uri)
        => _pools.GetOrAdd((uri.IdnHost, uri.Port), static (key, core) => new Http3ConnectionPool(core, key.Host, key.Port), this);

    /// <summary>The socket for a new connection: endpoints are added up to EndpointCount per family, then reused round robin.</summary>
    public Http3ClientEndpoint GetEndpoint(AddressFamily family)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        lock (_endpointsLock)
        {
            List<Http3ClientEndpoint> matching = _endpoints.FindAll(e => e.BoundEndPoint.AddressFamily == family);
            if (matching.Count < Options.EndpointCount)
            {
                var endpoint = new Http3ClientEndpoint(family, _transport, Logger);
                _endpoints.Add(endpoint);
                return endpoint;
            }

            return matching[(int)((uint)_nextEndpoint++ % (uint)matching.Count)];
        }
    }

    private void CloseIdleConnections()
    {
        foreach (Http3ConnectionPool pool in _pools.Values) pool.CloseIdle(Options.PooledConnectionIdleTimeout);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _idleSweep.DisposeAsync().ConfigureAwait(false);
        foreach (Http3ConnectionPool pool in _pools.Values) pool.CloseAll();
        Http3ClientEndpoint[] endpoints;
        lock (_endpointsLock) endpoints = [.. _endpoints];
        foreach (Http3ClientEndpoint endpoint in endpoints) await endpoint.DisposeAsync().ConfigureAwait(false);
    }
}
