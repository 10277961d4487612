using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using AspNetQuicSteer.Kestrel;
using AspNetQuicSteer.Kestrel.Internal;
using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Endpoint;
using AspNetQuicSteer.Quic.Streams;
using AspNetQuicSteer.Quic.Tls;
using AspNetQuicSteer.Sockets;
using Microsoft.Extensions.Logging;

namespace AspNetQuicSteer.Client.Internal;

/// <summary>
/// One client UDP socket (ephemeral port) with its loop thread. Connections opened here use the transport's connection
/// and stream contexts, so request and response bodies get the same pipes, flow-control backpressure and aborts as
/// the server side.
/// </summary>
internal sealed class Http3ClientEndpoint : QuicSteeringLoop, IAsyncDisposable
{
    private static readonly SslApplicationProtocol s_h3 = new("h3"u8.ToArray());

    private readonly QuicEndpointDriver _driver;
    private readonly Dictionary<QuicSteeringConnectionContext, TaskCompletionSource<QuicSteeringConnectionContext>> _pending = [];
    private int _disposed;

    public Http3ClientEndpoint(AddressFamily family, QuicSteeringTransportOptions transport, ILogger logger, QuicSteeringHttp3HandlerOptions? handler = null)
        : base(transport, logger, metrics: null)
    {
        IPAddress any = family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any;
        Socket socket = UdpSocketFactory.Bind(new IPEndPoint(any, 0), transport.SocketReceiveBufferSize, transport.SocketSendBufferSize);
        if (family == AddressFamily.InterNetworkV6) socket.DualMode = false;
        BoundEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        try
        {
            var batched = new BatchedUdpSocket(socket, new BatchedUdpSocketOptions { EnableGso = transport.EnableGso, EnableGro = transport.EnableGro });
            var endpoint = new QuicEndpoint(new QuicEndpointOptions
            {
                Connection = new QuicConnectionOptions
                {
                    IdleTimeout = transport.IdleTimeout,
                    // A request waiting on a silent server probes it each second: a server process that died (a rollback
                    // after a crash) is then answered for by the port's survivor with a stateless reset within a round
                    // trip, instead of the request hanging until its timeout (RFC 9000 §10.1.2, §10.3).
                    LivenessProbeInterval = TimeSpan.FromSeconds(1),
                    // The client's own (source) CIDs: random by default; a CIBIR client puts its app's ID in them.
                    ConnectionIdGenerator = handler?.ConnectionIdGenerator ?? new RandomConnectionIdGenerator(),
                    ExtensionTransportParameters = handler?.ExtensionTransportParameters ?? default,
                    ValidatePeerTransportParameters = handler?.ValidatePeerTransportParameters,
                    // RFC 9114 §6.2: servers open a control stream and up to two QPACK streams; pushes are never allowed.
                    Streams = new QuicStreamOptions { MaxConcurrentBidiStreams = 0, MaxConcurrentUniStreams = 8 },
                },
                TimeProvider = transport.TimeProvider,
            });
            _driver = new QuicEndpointDriver(batched, endpoint, new QuicEndpointDriverOptions { TimeProvider = transport.TimeProvider });
            _driver.TurnHook = () => LoopRunTurn(_driver.Now);
            _driver.Start();
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    internal override QuicEndpointDriver Driver => _driver;

    internal override IPEndPoint BoundEndPoint { get; }

    /// <summary>Connections on this socket (opening or open); read without the loop's lock, so approximate.</summary>
    public int ConnectionCount => Volatile.Read(ref _connectionCount);

    private int _connectionCount;

    /// <summary>
    /// Starts a connection and completes once its handshake did (RFC 9001 §4.1.1). A failure surfaces as
    /// <see cref="Http3HandshakeException"/>; <paramref name="connectTimeout"/> aborts the attempt with
    /// <see cref="Http3TimeoutException"/>.
    /// </summary>
    public async Task<QuicSteeringConnectionContext> ConnectAsync(IPEndPoint remote, Http3TlsSettings tls, TimeSpan connectTimeout, CancellationToken cancellationToken)
    {
        var completion = new TaskCompletionSource<QuicSteeringConnectionContext>(TaskCreationOptions.RunContinuationsAsynchronously);
        QuicSteeringConnectionContext context = await InvokeAsync(() =>
        {
            TimeSpan now = _driver.Now;
            QuicConnection quic = _driver.Endpoint.Connect(now, remote, tp => new TlsClientHandshake(tls.Create(tp, s_h3)));
            var connection = new QuicSteeringConnectionContext(this, quic, now);
            Connections.Add(connection);
            _pending[connection] = completion;
            Interlocked.Increment(ref _connectionCount);
            return connection;
        }).ConfigureAwait(false);

        using CancellationTokenRegistration registration = cancellationToken.UnsafeRegister(static s => ((QuicSteeringConnectionContext)s!).Abort(), context);
        try
        {
            return await completion.Task.WaitAsync(connectTimeout, Options.TimeProvider, CancellationToken.None).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            context.Abort();
            throw new Http3TimeoutException($"The QUIC handshake with {remote} did not complete within {connectTimeout.TotalSeconds:0.###} s.", e);
        }
        catch (Http3HandshakeException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
    }

    internal override void LoopPublish(QuicSteeringConnectionContext connection)
    {
        if (_pending.Remove(connection, out TaskCompletionSource<QuicSteeringConnectionContext>? completion)) completion.TrySetResult(connection);
        _ = connection.ConnectionClosed.UnsafeRegister(static s => Interlocked.Decrement(ref ((Http3ClientEndpoint)s!)._connectionCount), this);
    }

    internal override void LoopOnHandshakeFailed(QuicSteeringConnectionContext connection, QuicConnectionError? error)
    {
        Interlocked.Decrement(ref _connectionCount);
        if (!_pending.Remove(connection, out TaskCompletionSource<QuicSteeringConnectionContext>? completion)) return;
        string detail = error is null ? "the connection closed" : error.ToString();
        completion.TrySetException(new Http3HandshakeException($"The QUIC handshake with {connection.RemoteEndPoint} failed: {detail}.",
            error is null ? null : (long)error.ErrorCode));
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        try
        {
            await InvokeAsync(() =>
            {
                foreach (QuicSteeringConnectionContext connection in Connections) connection.LoopCloseForShutdown();
                return true;
            }).WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            await InvokeAsync(() =>
            {
                // The loop stops next: requests still waiting on these connections fail now instead of hanging.
                foreach (QuicSteeringConnectionContext connection in Connections.ToArray()) connection.LoopShutdownNow();
                foreach (TaskCompletionSource<QuicSteeringConnectionContext> pending in _pending.Values)
                {
                    pending.TrySetException(new Http3HandshakeException("The handler was disposed during the handshake."));
                }

                _pending.Clear();
                return true;
            }).WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            await InvokeAsync(static () => true).WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false); // flush the closes
        }
        catch (Exception e) when (e is TimeoutException or TaskCanceledException or ObjectDisposedException)
        {
        }

        await _driver.StopAsync().ConfigureAwait(false);
        _driver.Dispose();
    }
}
