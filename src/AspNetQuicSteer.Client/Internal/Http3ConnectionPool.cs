using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace AspNetQuicSteer.Client.Internal;

/// <summary>
/// The connections to one origin (scheme https, host, port). A request takes the least-loaded usable connection with a
/// free stream; a new connection opens when all are busy and <see cref="QuicSteeringHttp3HandlerOptions.MaxConnectionsPerOrigin"/>
/// allows; otherwise the request waits. Connections that got GOAWAY or reached MaxRequestsPerConnection take no new
/// requests and close when their last one ends.
/// </summary>
internal sealed class Http3ConnectionPool
{
    /// <summary>RFC 8305 §5: start the next address when the previous one has not answered within this delay.</summary>
    private static readonly TimeSpan s_connectionAttemptDelay = TimeSpan.FromMilliseconds(250);

    private readonly Http3ClientHandlerCore _handler;
    private readonly string _host;
    private readonly int _port;
    private readonly object _lock = new();
    private readonly List<Http3ClientConnection> _connections = [];
    private TaskCompletionSource _changed = NewSignal();
    private bool _changedObserved;
    private int _connecting;

    public Http3ConnectionPool(Http3ClientHandlerCore handler, string host, int port)
    {
        _handler = handler;
        _host = host;
        _port = port;
    }

    /// <summary>A connection with a slot reserved for one request (release it through the exchange).</summary>
    public async ValueTask<Http3ClientConnection> RentAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        QuicSteeringHttp3HandlerOptions options = _handler.Options;
        while (true)
        {
            Task changed;
            bool connect = false;
            lock (_lock)
            {
                Http3ClientConnection? best = null;
                Http3ClientConnection? leastLoaded = null;
                int usable = 0;
                foreach (Http3ClientConnection connection in _connections)
                {
                    if (!connection.IsUsable) continue;
                    usable++;
                    if (leastLoaded is null || connection.ActiveRequests < leastLoaded.ActiveRequests) leastLoaded = connection;
                    if (connection.ActiveRequests < connection.StreamCapacity && (best is null || connection.ActiveRequests < best.ActiveRequests)) best = connection;
                }

                if (best is not null && best.TryReserve()) return best;
                if (usable + _connecting < options.MaxConnectionsPerOrigin)
                {
                    _connecting++;
                    connect = true;
                }
                else if (leastLoaded is not null && _connecting == 0 && leastLoaded.TryReserve())
                {
                    return leastLoaded; // every connection is at its stream limit: wait for MAX_STREAMS on the least loaded
                }

                changed = _changed.Task;
                _changedObserved = true;
            }

            if (connect)
            {
                Http3ClientConnection connection;
                try
                {
                    connection = await ConnectAsync(request, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    lock (_lock) _connecting--;
                    OnCapacityChanged();
                }

                lock (_lock) _connections.Add(connection);
                if (connection.TryReserve()) return connection;
                continue;
            }

            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Wakes requests waiting for a connection or a stream.</summary>
    public void OnCapacityChanged()
    {
        TaskCompletionSource signal;
        lock (_lock)
        {
            // Every request's end lands here: replace the signal only when a request is waiting on it.
            if (!_changedObserved) return;
            _changedObserved = false;
            signal = _changed;
            _changed = NewSignal();
        }

        signal.TrySetResult();
    }

    public void Remove(Http3ClientConnection connection)
    {
        lock (_lock) _connections.Remove(connection);
        OnCapacityChanged();
    }

    /// <summary>Closes connections that stayed unused for <paramref name="idleTimeout"/>.</summary>
    public void CloseIdle(TimeSpan idleTimeout)
    {
        List<Http3ClientConnection> idle = [];
        lock (_lock)
        {
            foreach (Http3ClientConnection connection in _connections)
            {
                if (connection.IsIdleFor(idleTimeout)) idle.Add(connection);
            }
        }

        foreach (Http3ClientConnection connection in idle) connection.Close("Idle in the pool.");
    }

    /// <summary>Closes every connection at once, failing what is in flight (the handler is disposed).</summary>
    public void ShutdownAll()
    {
        Http3ClientConnection[] all;
        lock (_lock) all = [.. _connections];
        foreach (Http3ClientConnection connection in all) connection.ShutdownNow();
    }

    /// <summary>Resolves the host and races its addresses, staggered (RFC 8305 §5); the first handshake wins.</summary>
    private async Task<Http3ClientConnection> ConnectAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var tls = new Http3TlsSettings(_host, _handler.Options, request);
        IPAddress[] addresses = tls.IsAddress(out IPAddress? literal)
            ? [literal!]
            : await ResolveAsync(tls.ServerName, cancellationToken).ConfigureAwait(false);

        using var attempts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pending = new List<Task<Http3ClientConnection>>();
        Exception? lastFailure = null;
        int next = 0;
        while (true)
        {
            if (next < addresses.Length)
            {
                var remote = new IPEndPoint(addresses[next++], _port);
                pending.Add(Http3ClientConnection.OpenAsync(_handler.GetEndpoint(remote.AddressFamily), remote, tls, this, _handler.Options,
                    _handler.Counters, _handler.Logger, attempts.Token));
            }

            if (pending.Count == 0) break;
            Task delay = next < addresses.Length ? Task.Delay(s_connectionAttemptDelay, cancellationToken) : Task.Delay(Timeout.Infinite, cancellationToken);
            Task finished = await Task.WhenAny([.. pending, delay]).ConfigureAwait(false);
            if (finished == delay)
            {
                cancellationToken.ThrowIfCancellationRequested();
                continue;
            }

            var attempt = (Task<Http3ClientConnection>)finished;
            pending.Remove(attempt);
            try
            {
                Http3ClientConnection connection = await attempt.ConfigureAwait(false);
                Interlocked.Increment(ref _handler.Counters.ConnectionsOpened);
                await attempts.CancelAsync().ConfigureAwait(false);
                foreach (Task<Http3ClientConnection> loser in pending) _ = CloseWhenOpenAsync(loser);
                return connection;
            }
            catch (Exception e) when (e is Http3RequestException && !cancellationToken.IsCancellationRequested)
            {
                lastFailure = e;
                if (next >= addresses.Length && pending.Count == 0) break;
            }
        }

        Interlocked.Increment(ref _handler.Counters.HandshakesFailed);
        cancellationToken.ThrowIfCancellationRequested();
        throw lastFailure ?? new Http3HandshakeException($"No address to connect to for {_host}.");
    }

    private static async Task CloseWhenOpenAsync(Task<Http3ClientConnection> attempt)
    {
        try
        {
            (await attempt.ConfigureAwait(false)).Close("Another address answered first.");
        }
#pragma warning disable CA1031 // A losing attempt's failure is irrelevant.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    private async Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        try
        {
            IPAddress[] addresses = await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
            if (addresses.Length == 0) throw new Http3HandshakeException($"{host} has no addresses.");
            return addresses;
        }
        catch (SocketException e)
        {
            QuicSteeringClientLog.ResolveFailed(_handler.Logger, host, e.Message);
            throw new Http3HandshakeException($"Cannot resolve {host}: {e.Message}", inner: e);
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
