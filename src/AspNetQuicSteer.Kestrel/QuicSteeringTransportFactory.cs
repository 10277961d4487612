using System.Net;
using AspNetQuicSteer.Kestrel.Internal;
using AspNetQuicSteer.Steering.Membership;
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

    internal QuicSteeringTransportOptions Options => _options;

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

    public async ValueTask<IMultiplexedConnectionListener> BindAsync(EndPoint endpoint, IFeatureCollection? features = null, CancellationToken cancellationToken = default)
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

        SteeringMember? member = SharesPort(ip)
            ? await SteeringMember.JoinAsync(ip, CreateMemberOptions(ip), cancellationToken).ConfigureAwait(false)
            : null;
        QuicSteeringConnectionListener listener;
        try
        {
            listener = new QuicSteeringConnectionListener(this, _options, tls, ip, _logger, Metrics, member);
        }
        catch
        {
            if (member is not null) await member.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        lock (_listenersLock) _listeners.Add(listener);
        if (member is not null && _options.ActivateWhenBound) await listener.ActivateGenerationAsync(cancellationToken).ConfigureAwait(false);
        return listener;
    }

    /// <summary>Announces every shared-port listener's generation Ready and activates it (UseQuicSteering() calls this once the app started).</summary>
    internal async Task ActivateGenerationsAsync(CancellationToken cancellationToken)
    {
        foreach (QuicSteeringConnectionListener listener in Listeners)
        {
            await listener.ActivateGenerationAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A fixed port on Linux joins its generation group unless steering is disabled (ARCHITECTURE.md §6).</summary>
    private bool SharesPort(IPEndPoint endPoint) =>
        _options.Dataplane != QuicSteeringDataplane.Disabled && endPoint.Port != 0 && OperatingSystem.IsLinux();

    private SteeringMemberOptions CreateMemberOptions(IPEndPoint endPoint) => new()
    {
        AppName = _options.ApplicationName ?? System.Reflection.Assembly.GetEntryAssembly()?.GetName().Name ?? "app",
        Mode = _options.Dataplane switch
        {
            QuicSteeringDataplane.ReuseportCbpf => SteeringDataplaneMode.ReuseportCbpf,
            QuicSteeringDataplane.ReuseportEbpf => SteeringDataplaneMode.ReuseportEbpf,
            QuicSteeringDataplane.Forwarding => SteeringDataplaneMode.Forwarding,
            _ => SteeringDataplaneMode.Automatic,
        },
        ControlDirectory = _options.SteeringDirectory,
        RequestedGeneration = _options.GenerationId is { } generation ? new AspNetQuicSteer.Steering.GenerationId((byte)generation) : null,
        CibirId = _options.CibirId is { } cibir ? Convert.FromHexString(cibir) : [],
        Layout = _options.QuicLbServerId is { } serverId
            ? SteeringMemberOptions.CreateLayout(SteeringDataplaneMode.Automatic, _options.QuicLbConfigRotation, Convert.FromHexString(serverId))
            : null,
        Coordinator = new AspNetQuicSteer.Steering.Coordination.GenerationCoordinatorOptions { Probation = _options.Probation },
        ReceiveBufferSize = _options.SocketReceiveBufferSize,
        SendBufferSize = _options.SocketSendBufferSize,
        Log = message => QuicSteeringLog.Steering(_logger, endPoint, message),
    };

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
