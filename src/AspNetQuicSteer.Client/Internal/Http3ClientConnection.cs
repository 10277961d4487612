using System.Net;
using AspNetQuicSteer.Client.Http3;
using AspNetQuicSteer.Kestrel.Internal;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Logging;

namespace AspNetQuicSteer.Client.Internal;

/// <summary>
/// One HTTP/3 connection to an origin (RFC 9114 §3): the control stream pair, the server's QPACK streams, GOAWAY, and
/// the request streams running on it. Thread-safe; request streams run concurrently.
/// </summary>
internal sealed partial class Http3ClientConnection
{
    private readonly QuicSteeringConnectionContext _context;
    private readonly Http3ClientEndpoint _endpoint;
    private readonly Http3ConnectionPool _pool;
    private readonly QuicSteeringHttp3HandlerOptions _options;
    private readonly Http3HandlerCounters _counters;
    private readonly ILogger _logger;
    private readonly object _lock = new();
    private readonly int _streamCapacity;
    private int _activeRequests;
    private int _requestsStarted;
    private long _goAwayId = -1;
    private bool _retired;
    private bool _closed;
    private Http3ProtocolException? _protocolFailure;
    private long _idleSince;

    private Http3ClientConnection(Http3ClientEndpoint endpoint, QuicSteeringConnectionContext context, Http3ConnectionPool pool, QuicSteeringHttp3HandlerOptions options,
        Http3HandlerCounters counters, ILogger logger, int streamCapacity)
    {
        _endpoint = endpoint;
        _context = context;
        _pool = pool;
        _options = options;
        _counters = counters;
        _logger = logger;
        _streamCapacity = streamCapacity;
        _idleSince = options.TimeProvider.GetTimestamp();
        context.ConnectionClosed.UnsafeRegister(static s => ((Http3ClientConnection)s!).OnClosed(), this);
    }

    public string ConnectionId => _context.ConnectionId;

    public EndPoint? RemoteEndPoint => _context.RemoteEndPoint;

    /// <summary>Requests in flight.</summary>
    public int ActiveRequests => Volatile.Read(ref _activeRequests);

    /// <summary>Concurrent requests the server allows (its initial_max_streams_bidi, RFC 9000 §18.2).</summary>
    public int StreamCapacity => _streamCapacity;

    /// <summary>False once the connection got a GOAWAY, reached MaxRequestsPerConnection, failed or closed.</summary>
    public bool IsUsable
    {
        get
        {
            lock (_lock) return !_retired && !_closed;
        }
    }

    /// <summary>The first stream ID the server will not process (RFC 9114 §5.2), or -1 before any GOAWAY.</summary>
    public long GoAwayId => Interlocked.Read(ref _goAwayId);

    /// <summary>Opens a connection: QUIC handshake, then the control stream with our SETTINGS (RFC 9114 §6.2.1).</summary>
    public static async Task<Http3ClientConnection> OpenAsync(Http3ClientEndpoint endpoint, IPEndPoint remote, Http3TlsSettings tls,
        Http3ConnectionPool pool, QuicSteeringHttp3HandlerOptions options, Http3HandlerCounters counters, ILogger logger, CancellationToken cancellationToken)
    {
        QuicSteeringConnectionContext context = await endpoint.ConnectAsync(remote, tls, options.ConnectTimeout, cancellationToken).ConfigureAwait(false);
        int capacity = await endpoint.InvokeAsync(() => (int)Math.Min(int.MaxValue, context.Quic.PeerTransportParameters?.InitialMaxStreamsBidi ?? 0))
            .ConfigureAwait(false);
        var connection = new Http3ClientConnection(endpoint, context, pool, options, counters, logger, Math.Max(1, capacity));
        try
        {
            await connection.StartControlStreamsAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ConnectionAbortedException or ConnectionResetException or InvalidOperationException)
        {
            context.Abort();
            throw new Http3HandshakeException($"The connection to {remote} closed right after its handshake: {e.Message}", inner: e);
        }

        QuicSteeringClientLog.ConnectionOpened(logger, context.ConnectionId, remote, tls.ServerName, capacity);
        return connection;
    }

    /// <summary>Takes a slot for one request; false when the connection may not take more.</summary>
    public bool TryReserve()
    {
        lock (_lock)
        {
            if (_retired || _closed) return false;
            _activeRequests++;
            _requestsStarted++;
            if (_options.MaxRequestsPerConnection > 0 && _requestsStarted >= _options.MaxRequestsPerConnection) _retired = true;
            return true;
        }
    }

    /// <summary>A request finished (however it ended). A retired connection closes once its last request is done.</summary>
    public void Release()
    {
        bool closeNow;
        lock (_lock)
        {
            _activeRequests--;
            if (_activeRequests == 0) _idleSince = _options.TimeProvider.GetTimestamp();
            closeNow = _activeRequests == 0 && _retired && !_closed;
        }

        if (closeNow) Close("No more requests for this connection.");
        else _pool.OnCapacityChanged();
    }

    /// <summary>True when no request ran for <paramref name="idleTimeout"/>.</summary>
    public bool IsIdleFor(TimeSpan idleTimeout)
    {
        lock (_lock) return _activeRequests == 0 && _options.TimeProvider.GetElapsedTime(_idleSince) >= idleTimeout;
    }

    /// <summary>Closes with H3_NO_ERROR (RFC 9114 §5.2: a client may simply close once it has nothing outstanding).</summary>
    public void Close(string reason)
    {
        lock (_lock) _retired = true;
        QuicSteeringClientLog.ConnectionClosing(_logger, _context.ConnectionId, reason);
        _context.Abort(new ConnectionAbortedException(reason));
    }

    /// <summary>Closes now and fails every request on the connection without waiting for the closing period.</summary>
    public void ShutdownNow()
    {
        lock (_lock) _retired = true;
        _endpoint.Post(_context.LoopShutdownNow);
    }

    /// <summary>A connection error (RFC 9114 §8): CONNECTION_CLOSE with <paramref name="code"/>; requests fail with it.</summary>
    internal Http3ProtocolException Fail(Http3ErrorCode code, string message)
    {
        Http3ProtocolException failure;
        lock (_lock)
        {
            _protocolFailure ??= new Http3ProtocolException($"HTTP/3 connection error {code} (0x{(long)code:x}): {message}", (long)code);
            failure = _protocolFailure;
            _retired = true;
        }

        QuicSteeringClientLog.ConnectionError(_logger, _context.ConnectionId, (long)code, message);
        _context.Features.Get<IProtocolErrorCodeFeature>()!.Error = (long)code;
        _context.Abort(new ConnectionAbortedException(message));
        _pool.OnCapacityChanged();
        return failure;
    }

    /// <summary>The failure a request on this connection reports when its stream ended with <paramref name="error"/>.</summary>
    internal Http3RequestException MapConnectionFailure(Exception error, long streamErrorCode)
    {
        lock (_lock)
        {
            if (_protocolFailure is { } protocol) return protocol;
        }

        long? connectionCode = _context.Error >= 0 ? _context.Error : null;
        if (streamErrorCode < 0) Retire(); // the connection itself ended
        if (streamErrorCode >= 0)
        {
            return new Http3ConnectionResetException($"The server reset the request stream with 0x{streamErrorCode:x}.", streamErrorCode, error);
        }

        return new Http3ConnectionResetException($"The connection to {_context.RemoteEndPoint} ended before the response completed: {error.Message}",
            connectionCode, error);
    }

    /// <summary>Takes no new requests from now on.</summary>
    private void Retire()
    {
        lock (_lock) _retired = true;
        _pool.OnCapacityChanged();
    }

    private void OnClosed()
    {
        lock (_lock)
        {
            _closed = true;
            _retired = true;
        }

        QuicSteeringClientLog.ConnectionClosed(_logger, _context.ConnectionId);
        _pool.Remove(this);
    }

    private void OnGoAway(long id)
    {
        lock (_lock)
        {
            _retired = true;
            Interlocked.Exchange(ref _goAwayId, id);
        }

        Interlocked.Increment(ref _counters.GoAwaysReceived);
        QuicSteeringClientLog.GoAwayReceived(_logger, _context.ConnectionId, id);
        _pool.OnCapacityChanged();
        bool idle;
        lock (_lock) idle = _activeRequests == 0;
        if (idle) Close("GOAWAY received and no request outstanding.");
    }
}
