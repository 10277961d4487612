using System.Net;
using AspNetQuicSteer.Kestrel.Internal;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AspNetQuicSteer.Kestrel;

/// <summary>
/// Kestrel's multiplexed (HTTP/3) transport on the managed QUIC stack. Registered by <c>UseQuicSteering()</c> after
/// Kestrel's own QUIC factory, so Kestrel tries it first (it walks factories last-registered first, KESTREL.md §3).
/// </summary>
internal sealed class QuicSteeringTransportFactory : IMultiplexedConnectionListenerFactory, IConnectionListenerFactorySelector, IDisposable
{
    private readonly QuicSteeringTransportOptions _options;
    private readonly ILogger _logger;
    private readonly object _listenersLock = new();
    private readonly List<QuicSteeringConnectionListener> _listeners = [];

    public QuicSteeringTransportFactory(IOptions<QuicSteeringTransportOptions> options, ILoggerFactory loggerFactory, QuicSteeringMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _options = options.Value;
        _logger = loggerFactory.CreateLogger("AspNetQuicSteer.Kestrel.Transport");
        Metrics = metrics;
    }

    internal QuicSteeringMetrics Metrics { get; }

    /// <summary>Listeners currently bound (diagnostics and tests).</summary>
    internal IReadOnlyList<QuicSteeringConnectionListener> Listeners
    {
        get
        {
            lock (_listenersLock) return [.. _listeners];
        }
    }

    /// <summary>QUIC runs over UDP/IP: IP endpoints only (what Kestrel's own factory accepts too).</summary>
    public bool CanBind(EndPoint endpoint) => endpoint is IPEndPoint;

    public ValueTask<IMultiplexedConnectionListener> BindAsync(EndPoint endpoint, IFeatureCollection? features = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (endpoint is not IPEndPoint ip)
        {
            throw new NotSupportedException($"{endpoint.GetType().Name} is not supported by the QUIC transport; bind an IP endpoint.");
        }

        // KESTREL.md §2: Kestrel puts exactly one TlsConnectionCallbackOptions into the features for HTTP/3 endpoints.
        TlsConnectionCallbackOptions tls = features?.Get<TlsConnectionCallbackOptions>()
            ?? throw new InvalidOperationException("HTTP/3 needs HTTPS: the endpoint has no TLS configuration (call ListenOptions.UseHttps()).");
        if (tls.OnConnection is null)
        {
            throw new InvalidOperationException("The endpoint's TLS configuration has no OnConnection callback.");
        }

        var listener = new QuicSteeringConnectionListener(this, _options, tls, ip, _logger, Metrics);
        lock (_listenersLock) _listeners.Add(listener);
        return ValueTask.FromResult<IMultiplexedConnectionListener>(listener);
    }

    internal void OnListenerDisposed(QuicSteeringConnectionListener listener)
    {
        lock (_listenersLock) _listeners.Remove(listener);
    }

    public void Dispose()
    {
        foreach (QuicSteeringConnectionListener listener in Listeners)
        {
            listener.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(5));
        }
    }
}
