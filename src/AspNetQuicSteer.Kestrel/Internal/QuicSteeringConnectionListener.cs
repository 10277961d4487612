using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Endpoint;
using AspNetQuicSteer.Quic.Endpoint.Stateless;
using AspNetQuicSteer.Quic.Streams;
using AspNetQuicSteer.Quic.Tls;
using AspNetQuicSteer.Sockets;
using AspNetQuicSteer.Steering.Coordination;
using AspNetQuicSteer.Steering.Membership;
using AspNetQuicSteer.Steering.Routing;
using AspNetQuicSteer.Quic.Wire;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace AspNetQuicSteer.Kestrel.Internal;

/// <summary>
/// One UDP socket, one <see cref="QuicEndpoint"/> and the loop thread that drives them (<see cref="QuicEndpointDriver"/>).
/// Connections are handed to Kestrel once their handshake completed. Unbind refuses new connections and lets existing
/// ones finish (KESTREL.md §4: the socket stays open until dispose).
/// </summary>
internal sealed class QuicSteeringConnectionListener : QuicSteeringLoop, IMultiplexedConnectionListener
{
    private readonly QuicSteeringTransportFactory _factory;
    private readonly Channel<QuicSteeringConnectionContext> _accepted =
        Channel.CreateUnbounded<QuicSteeringConnectionContext>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = false });
    private readonly QuicEndpoint _endpoint;
    private readonly QuicEndpointDriver _driver;
    private readonly TlsConnectionCallbackOptions _tlsOptions;
    private readonly QuicSteeringMetrics _metrics;
    private readonly SteeringMember? _member;
    private readonly QuicSteeringConnectionListener? _probeOf;
    private readonly Lock _probeLock = new();
    private QuicSteeringConnectionListener? _probe;
    private GenerationState _lastLoggedState;
    private volatile bool _unbound;
    private int _disposed;

    public QuicSteeringConnectionListener(QuicSteeringTransportFactory factory, QuicSteeringTransportOptions options, TlsConnectionCallbackOptions tls,
        IPEndPoint endPoint, ILogger logger, QuicSteeringMetrics metrics, SteeringMember? member = null, QuicSteeringConnectionListener? probeOf = null)
        : base(options, logger, metrics)
    {
        _factory = factory;
        _probeOf = probeOf;
        _tlsOptions = tls;
        _metrics = metrics;
        _member = member;

        // On a shared port the generation group bound the socket (SO_REUSEPORT, or the one socket handed over).
        Socket socket = member?.Socket ?? BindSocket(endPoint, options);
        BoundEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        try
        {
            var batched = new BatchedUdpSocket(socket, new BatchedUdpSocketOptions { EnableGso = options.EnableGso, EnableGro = options.EnableGro });
            _endpoint = new QuicEndpoint(new QuicEndpointOptions
            {
                // The certificate and ALPN come from Kestrel per connection, after the ClientHello (KESTREL.md §2).
                ServerTls = static _ => new TlsServerHandshake(),
                Connection = CreateConnectionOptions(options, member),
                // All generations of the port derive stateless-reset and token keys from one secret (RFC 9000 §10.3, §8.1.3).
                Keys = member?.Keys,
                Admission = new ListenerAdmissionPolicy(this, options.RequireAddressValidation
                    ? InitialAdmissionPolicies.RetryWhenNoValidToken
                    : InitialAdmissionPolicies.RetryAboveHandshakeLoad(Math.Max(64, options.MaxConnections / 10))),
                TimeProvider = options.TimeProvider,
                MaxConnections = options.MaxConnections,
            });
            _driver = new QuicEndpointDriver(batched, _endpoint, new QuicEndpointDriverOptions
            {
                TimeProvider = options.TimeProvider,
                // Invariant 1: a datagram of another live generation is forwarded to it, never processed (or reset) here.
                Divert = member is null ? null : member.Divert.TryDivert,
            });
            _driver.TurnHook = LoopOnTurn;
            _driver.Start();
            if (member is not null)
            {
                member.Changed += OnGenerationChanged;
                member.Start(_driver);
            }

            _ = _driver.Completion.ContinueWith(OnLoopEnded, this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            metrics.AddListener(this);
            if (probeOf is null) QuicSteeringLog.ListenerBound(logger, BoundEndPoint, batched.GsoEnabled, batched.GroEnabled, batched.IsNative);
            else QuicSteeringLog.HealthProbeBound(logger, probeOf.BoundEndPoint, BoundEndPoint);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public EndPoint EndPoint => BoundEndPoint;

    internal override IPEndPoint BoundEndPoint { get; }

    internal override TlsConnectionCallbackOptions TlsOptions => _tlsOptions;

    internal override QuicEndpointDriver Driver => _driver;

    internal bool IsUnbound => _unbound || (_probeOf?._unbound ?? false);

    /// <summary>
    /// The health gate's way in (issue 7): a private loopback socket whose connections Kestrel serves through this
    /// listener, so a generation that is not yet active (new connections on the shared port still go to its
    /// predecessor) can be probed over HTTP/3 end to end, through the very pipeline clients will reach.
    /// </summary>
    internal IPEndPoint StartHealthProbe()
    {
        lock (_probeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0 || _probeOf is not null, this);
            if (_probe is null)
            {
                IPAddress loopback = BoundEndPoint.Address.Equals(IPAddress.IPv6Loopback) ? IPAddress.IPv6Loopback : IPAddress.Loopback;
                _probe = new QuicSteeringConnectionListener(_factory, Options, _tlsOptions, new IPEndPoint(loopback, 0), Logger, _metrics, probeOf: this);
            }

            return _probe.BoundEndPoint;
        }
    }

    /// <summary>Closes the health probe's socket (its connections first).</summary>
    internal ValueTask StopHealthProbeAsync()
    {
        QuicSteeringConnectionListener? probe;
        lock (_probeLock)
        {
            probe = _probe;
            _probe = null;
        }

        return probe?.DisposeAsync() ?? ValueTask.CompletedTask;
    }

    /// <summary>This listener's place in its port's generation group; null when the port is not shared.</summary>
    internal SteeringMember? Generation => _member;

    /// <summary>Announces this generation Ready and makes it the port's active one (it takes every new connection).</summary>
    internal async Task ActivateGenerationAsync(CancellationToken cancellationToken)
    {
        if (_member is null) return;
        if (_member.State == GenerationState.Joining) await _member.ReadyAsync(cancellationToken).ConfigureAwait(false);
        await _member.ActivateAsync(cancellationToken).ConfigureAwait(false);
        await _member.RefreshAsync(cancellationToken).ConfigureAwait(false);
    }

    private void OnGenerationChanged(SteeringMember member)
    {
        GenerationState state = member.State;
        if (state == _lastLoggedState) return;
        _lastLoggedState = state;
        QuicSteeringLog.GenerationStateChanged(Logger, member.Generation.Value, BoundEndPoint, state.ToString(), member.Mode.ToDisplayName());
        if (state == GenerationState.Draining) RequestGracefulCloseOfAll();
    }

    /// <summary>Connections currently on this listener (a snapshot taken on the loop thread).</summary>
    internal Task<int> CountConnectionsAsync() => _driver.InvokeAsync(() => Connections.Count);

    /// <summary>
    /// ARCHITECTURE.md invariant 3: a draining generation tells every client to go, idle connections included. Kestrel
    /// does that when asked to close a connection gracefully (IConnectionLifetimeNotificationFeature, set on our
    /// context by Kestrel): GOAWAY with the next unprocessed stream ID (RFC 9114 §5.2), in-flight requests finish,
    /// then the connection closes. New connections already go to the active generation (the router and the kernel).
    /// Idempotent: the drain watcher calls it again while draining, for connections whose handshake completed (and
    /// Kestrel accepted) after draining began.
    /// </summary>
    internal void RequestGracefulCloseOfAll()
    {
        Post(() =>
        {
            List<IConnectionLifetimeNotificationFeature>? features = null;
            foreach (QuicSteeringConnectionContext connection in Connections)
            {
                if (connection.LoopGracefulCloseRequested || connection.Features.Get<IConnectionLifetimeNotificationFeature>() is not { } lifetime) continue;
                connection.LoopGracefulCloseRequested = true;
                (features ??= []).Add(lifetime);
            }

            if (features is null) return;

            // Outside the loop turn: Kestrel's callbacks may write (GOAWAY) and must not run on the loop thread.
            _ = Task.Run(() =>
            {
                foreach (IConnectionLifetimeNotificationFeature lifetime in features) lifetime.RequestClose();
                QuicSteeringLog.Steering(Logger, BoundEndPoint, string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"gen{_member?.Generation.Value} draining: GOAWAY requested on {features.Count} connection(s)"));
            });
        });
    }

    /// <summary>
    /// The drain timeout expired: cancels the requests still running (H3_REQUEST_CANCELLED, see
    /// <see cref="QuicSteeringConnectionContext.LoopCancelRequests"/>). Returns the connections still open and the
    /// requests cancelled.
    /// </summary>
    internal Task<(int Connections, int Requests)> CancelRemainingRequestsAsync(string reason) => _driver.InvokeAsync(() =>
    {
        int requests = 0;
        foreach (QuicSteeringConnectionContext connection in Connections) requests += connection.LoopCancelRequests(reason);
        return (Connections.Count, requests);
    });

    public async ValueTask<MultiplexedConnectionContext?> AcceptAsync(IFeatureCollection? features = null, CancellationToken cancellationToken = default)
    {
        try
        {
            while (await _accepted.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (_accepted.Reader.TryRead(out QuicSteeringConnectionContext? connection)) return connection;
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (ChannelClosedException)
        {
        }

        // Unbound, disposed, or the loop ended: Kestrel's accept loop stops on null (KESTREL.md §4).
        return null;
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        if (_unbound) return ValueTask.CompletedTask;
        _unbound = true;
        _accepted.Writer.TryComplete();
        QuicSteeringLog.ListenerUnbound(Logger, BoundEndPoint);

        // Handshakes that completed but were never accepted belong to nobody now: close them.
        // Each on its own loop: the health probe's connections run on the probe's.
        while (_accepted.Reader.TryRead(out QuicSteeringConnectionContext? orphan)) orphan.Post(orphan.LoopCloseForShutdown);
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await StopHealthProbeAsync().ConfigureAwait(false);
        await UnbindAsync().ConfigureAwait(false);
        try
        {
            // Closes Kestrel already asked for finish first (their last GOAWAY is delivered, bounded), then whatever
            // is left gets CONNECTION_CLOSE, flushed by the next turn, before the socket goes.
            DateTime deadline = DateTime.UtcNow + QuicSteeringConnectionContext.MaxCloseDelay + TimeSpan.FromMilliseconds(100);
            while (DateTime.UtcNow < deadline && await _driver.InvokeAsync(() => Connections.Exists(static c => c.LoopHasPendingClose))
                       .WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false))
            {
                await Task.Delay(10).ConfigureAwait(false);
            }

            await _driver.InvokeAsync(() =>
            {
                foreach (QuicSteeringConnectionContext connection in Connections) connection.LoopCloseForShutdown();
                return true;
            }).WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            await _driver.InvokeAsync(static () => true).WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or TaskCanceledException)
        {
        }

        int remaining = Connections.Count;
        await _driver.StopAsync().ConfigureAwait(false);
        QuicSteeringLog.ListenerDisposed(Logger, BoundEndPoint, remaining, _driver.DatagramsReceived, _driver.Socket.ReceiveCalls,
            _driver.DatagramsSent, _driver.Socket.SendCalls, _driver.Turns);
        _metrics.RemoveListener(this);
        _driver.Dispose();
        if (_member is not null)
        {
            // After the socket closed: the coordinator's socket order must follow the kernel's (SteeringMember.DisposeAsync).
            _member.Changed -= OnGenerationChanged;
            var counters = _member.Counters;
            QuicSteeringLog.Steering(Logger, BoundEndPoint, string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"gen{_member.Generation.Value} leaves: routed {counters.Routed}, forwarded {counters.Forwarded}, dropped {counters.Dropped}, stateless resets sent {_endpoint.Stats.StatelessResetsSent}"));
            await _member.DisposeAsync().ConfigureAwait(false);
        }

        if (_probeOf is null) _factory.OnListenerDisposed(this);
    }

    /// <summary>A connection finished its handshake: Kestrel may accept it.</summary>
    internal override void LoopPublish(QuicSteeringConnectionContext connection)
    {
        // A probe connection is Kestrel's like any other: it goes to the listener Kestrel accepts from.
        ChannelWriter<QuicSteeringConnectionContext> accepted = (_probeOf ?? this)._accepted.Writer;
        if (IsUnbound || !accepted.TryWrite(connection)) connection.LoopCloseForShutdown();
    }

    private void LoopOnTurn()
    {
        // Forwarded datagrams the owner's queue had no room for are retried every turn, in order.
        _member?.Divert.FlushPending();
        LoopRunTurn(_driver.Now);
    }

    private protected override void LoopOnTurnStarted(TimeSpan now)
    {
        while (_endpoint.TryAccept(out QuicConnection quic))
        {
            var connection = new QuicSteeringConnectionContext(this, quic, now);
            Connections.Add(connection);
            _metrics.ConnectionStarted();
            QuicSteeringLog.ConnectionStarted(Logger, connection.ConnectionId, quic.RemoteAddress);
        }
    }

    private static void OnLoopEnded(Task completion, object? state)
    {
        var listener = (QuicSteeringConnectionListener)state!;
        if (completion.Exception is { } error) QuicSteeringLog.LoopFaulted(listener.Logger, listener.BoundEndPoint, error.GetBaseException());
        listener._accepted.Writer.TryComplete();
    }

    private static Socket BindSocket(IPEndPoint endPoint, QuicSteeringTransportOptions options)
    {
        try
        {
            // [::] gets one dual-mode socket for IPv4 and IPv6 (Kestrel's "any" address).
            return UdpSocketFactory.Bind(endPoint, options.SocketReceiveBufferSize, options.SocketSendBufferSize);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            // KESTREL.md §3: Kestrel reports port conflicts through AddressInUseException.
            throw new AddressInUseException(e.Message, e);
        }
    }

    private static QuicConnectionOptions CreateConnectionOptions(QuicSteeringTransportOptions options, SteeringMember? member)
    {
        var streams = new QuicStreamOptions
        {
            MaxConcurrentBidiStreams = (ulong)options.MaxBidirectionalStreamCount,
            MaxConcurrentUniStreams = (ulong)options.MaxUnidirectionalStreamCount,
        };
        // A shared port's CIDs carry the generation (ARCHITECTURE.md §5), so every datagram can be steered to its owner.
        if (member is null) return new QuicConnectionOptions { IdleTimeout = options.IdleTimeout, Streams = streams };
        if (member.Cibir is not { } cibir)
        {
            return new QuicConnectionOptions { IdleTimeout = options.IdleTimeout, Streams = streams, ConnectionIdGenerator = member.ConnectionIds };
        }

        // draft-banks-quic-cibir-01 §2.1: a CIBIR app's server sends cibir_encoding and requires the client's to match
        // (CONNECTION_REFUSED otherwise).
        byte[] parameter = new byte[cibir.ParameterLength];
        cibir.TryWriteParameter(parameter, out _);
        return new QuicConnectionOptions
        {
            IdleTimeout = options.IdleTimeout,
            Streams = streams,
            ConnectionIdGenerator = member.ConnectionIds,
            ExtensionTransportParameters = parameter,
            ValidatePeerTransportParameters = peer =>
            {
                CibirValidation validation = CibirEncoding.ValidateClientParameters(peer.Span, cibir);
                return validation.IsValid ? null : new QuicProtocolException(validation.Error!.Value, validation.Describe(cibir));
            },
        };
    }

    /// <summary>Refuses new connections once unbound (RFC 9000 §5.2.2: CONNECTION_REFUSED); otherwise the configured policy.</summary>
    private sealed class ListenerAdmissionPolicy(QuicSteeringConnectionListener listener, IInitialAdmissionPolicy inner) : IInitialAdmissionPolicy
    {
        public InitialAdmissionDecision Decide(in InitialAdmissionContext context)
            => listener.IsUnbound ? InitialAdmissionDecision.Refuse() : inner.Decide(context);
    }
}
