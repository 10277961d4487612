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
    private readonly ITimer _idleSweep;
    private int _disposed;

    public Http3ClientHandlerCore(QuicSteeringHttp3HandlerOptions options, Http3ClientHandlerCore? shareEndpointsWith = null)
    {
        Options = options;
        Logger = (ILogger?)options.LoggerFactory?.CreateLogger("AspNetQuicSteer.Client") ?? NullLogger.Instance;
        var transport = new QuicSteeringTransportOptions
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
        Endpoints = shareEndpointsWith is not null && shareEndpointsWith.Endpoints.TryAddReference()
            ? shareEndpointsWith.Endpoints
            : new Http3ClientEndpointSet(transport, Logger, options.EndpointCount, options);
        TimeSpan sweep = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond * 100, Math.Min(TimeSpan.TicksPerSecond, options.PooledConnectionIdleTimeout.Ticks / 4)));
        _idleSweep = options.TimeProvider.CreateTimer(static s => ((Http3ClientHandlerCore)s!).CloseIdleConnections(), this, sweep, sweep);
    }

    public QuicSteeringHttp3HandlerOptions Options { get; }

    public ILogger Logger { get; }

    public Http3HandlerCounters Counters { get; } = new();

    public Http3ConnectionPool GetPool(Uri uri)
        => _pools.GetOrAdd((uri.IdnHost, uri.Port), static (key, core) => new Http3ConnectionPool(core, key.Host, key.Port), this);

    /// <summary>The sockets connections are opened on (possibly shared with other handlers).</summary>
    public Http3ClientEndpointSet Endpoints { get; }

    /// <summary>The socket for a new connection.</summary>
    public Http3ClientEndpoint GetEndpoint(AddressFamily family)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return Endpoints.Get(family);
    }

    private void CloseIdleConnections()
    {
        foreach (Http3ConnectionPool pool in _pools.Values) pool.CloseIdle(Options.PooledConnectionIdleTimeout);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _idleSweep.DisposeAsync().ConfigureAwait(false);
        // In-flight requests fail now rather than when the closing period ends (the sockets may outlive this handler).
        foreach (Http3ConnectionPool pool in _pools.Values) pool.ShutdownAll();
        await Endpoints.ReleaseAsync().ConfigureAwait(false);
    }
}
