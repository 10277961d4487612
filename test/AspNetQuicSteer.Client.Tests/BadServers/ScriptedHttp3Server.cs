using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using AspNetQuicSteer.Client.Http3;
using AspNetQuicSteer.Client.Internal;
using AspNetQuicSteer.Kestrel;
using AspNetQuicSteer.Kestrel.Internal;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace AspNetQuicSteer.Client.Tests.BadServers;

/// <summary>
/// A raw HTTP/3 server for tests, on the project's own QUIC transport (real UDP on 127.0.0.1): it completes the QUIC
/// and TLS handshake (ALPN h3), optionally opens its control stream with SETTINGS (RFC 9114 §6.2.1), reads each
/// request (HEADERS, DATA, FIN) and hands the stream to a scenario that writes whatever bytes it wants, resets the
/// stream, closes the connection with a code, or does nothing at all. The client's unidirectional streams are read
/// and discarded. Streams are never completed by the server itself: a scenario that returns without a FIN leaves its
/// stream stalled.
/// </summary>
internal sealed class ScriptedHttp3Server : IAsyncDisposable
{
    private readonly ServiceProvider _services;
    private readonly QuicSteeringMetrics _metrics;
    private readonly QuicSteeringTransportFactory _factory;
    private readonly IMultiplexedConnectionListener _listener;
    private readonly Func<ScriptedStream, Task> _onRequest;
    private readonly CancellationTokenSource _stopping = new();
    private readonly object _lock = new();
    private readonly List<ScriptedConnection> _connections = [];
    private readonly ConcurrentQueue<Exception> _scenarioFailures = new();
    private readonly Task _acceptLoop;
    private int _disposed;

    private ScriptedHttp3Server(ServiceProvider services, QuicSteeringMetrics metrics, QuicSteeringTransportFactory factory,
        IMultiplexedConnectionListener listener, Func<ScriptedStream, Task> onRequest, bool sendSettings)
    {
        _services = services;
        _metrics = metrics;
        _factory = factory;
        _listener = listener;
        _onRequest = onRequest;
        SendSettings = sendSettings;
        EndPoint = (IPEndPoint)listener.EndPoint;
        _acceptLoop = AcceptConnectionsAsync();
    }

    /// <summary>Where the server listens (127.0.0.1, an ephemeral port).</summary>
    public IPEndPoint EndPoint { get; }

    /// <summary>Whether each connection opens its control stream with an empty SETTINGS frame at once.</summary>
    public bool SendSettings { get; }

    /// <summary>Connections accepted so far, in order.</summary>
    public IReadOnlyList<ScriptedConnection> Connections
    {
        get
        {
            lock (_lock) return [.. _connections];
        }
    }

    /// <summary>Exceptions the scenarios (or reading a request) threw, for diagnostics.</summary>
    public IReadOnlyCollection<Exception> ScenarioFailures => _scenarioFailures;

    /// <summary>Cancelled when the server is disposed: scenarios that wait should wait on it.</summary>
    public CancellationToken Stopping => _stopping.Token;

    /// <summary>An absolute https URI on this server (the IP literal: the test certificate has 127.0.0.1 as a SAN).</summary>
    public Uri Uri(string pathAndQuery = "/") => new($"https://{EndPoint}{pathAndQuery}");

    /// <summary>
    /// Binds a listener on 127.0.0.1:0 the way Kestrel does for an HTTP/3 endpoint: the features carry a
    /// <see cref="TlsConnectionCallbackOptions"/> whose OnConnection returns the certificate and ALPN h3.
    /// </summary>
    public static async Task<ScriptedHttp3Server> StartAsync(X509Certificate2 certificate, Func<ScriptedStream, Task> onRequest, bool sendSettings = true,
        QuicSteeringTransportOptions? transport = null)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        ArgumentNullException.ThrowIfNull(onRequest);
        ServiceProvider services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new QuicSteeringMetrics(services.GetRequiredService<IMeterFactory>());
        var factory = new QuicSteeringTransportFactory(Options.Create(transport ?? new QuicSteeringTransportOptions()), NullLoggerFactory.Instance, metrics);
        try
        {
            var ssl = new SslServerAuthenticationOptions
            {
                ServerCertificate = certificate,
                ApplicationProtocols = [SslApplicationProtocol.Http3],
            };
            var tls = new TlsConnectionCallbackOptions
            {
                ApplicationProtocols = [SslApplicationProtocol.Http3],
                OnConnection = (_, _) => ValueTask.FromResult(ssl),
            };
            var features = new FeatureCollection();
            features.Set(tls);
            IMultiplexedConnectionListener listener = await factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 0), features).ConfigureAwait(false);
            return new ScriptedHttp3Server(services, metrics, factory, listener, onRequest, sendSettings);
        }
        catch
        {
            factory.Dispose();
            metrics.Dispose();
            await services.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task AcceptConnectionsAsync()
    {
        while (true)
        {
            MultiplexedConnectionContext? context = await _listener.AcceptAsync(cancellationToken: _stopping.Token).ConfigureAwait(false);
            if (context is null) return;
            ScriptedConnection connection;
            lock (_lock)
            {
                connection = new ScriptedConnection(this, context, _connections.Count);
                _connections.Add(connection);
            }

            connection.Start();
        }
    }

    internal async Task HandleRequestAsync(ScriptedStream stream)
    {
        try
        {
            await stream.ReadRequestAsync(_stopping.Token).ConfigureAwait(false);
            await _onRequest(stream).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A scenario's failure is recorded for the test to inspect, never allowed to crash the server.
        catch (Exception e)
#pragma warning restore CA1031
        {
            if (!_stopping.IsCancellationRequested) _scenarioFailures.Enqueue(e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _listener.DisposeAsync().ConfigureAwait(false);
        try
        {
            await _acceptLoop.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }

        foreach (ScriptedConnection connection in Connections) await connection.DisposeAsync().ConfigureAwait(false);
        _factory.Dispose();
        _metrics.Dispose();
        await _services.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }
}

/// <summary>One accepted connection of a <see cref="ScriptedHttp3Server"/>.</summary>
internal sealed class ScriptedConnection : IAsyncDisposable
{
    private readonly ScriptedHttp3Server _server;
    private readonly SemaphoreSlim _controlLock = new(1, 1);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<Exception?> _acceptEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ConnectionContext? _control;
    private Task _streams = Task.CompletedTask;

    internal ScriptedConnection(ScriptedHttp3Server server, MultiplexedConnectionContext context, int index)
    {
        _server = server;
        Context = context;
        Index = index;
        context.ConnectionClosed.UnsafeRegister(static s => ((TaskCompletionSource)s!).TrySetResult(), _closed);
    }

    /// <summary>0 for the first connection the server accepted, 1 for the next, …</summary>
    public int Index { get; }

    public MultiplexedConnectionContext Context { get; }

    /// <summary>Completes when the connection is closed, by either side.</summary>
    public Task Closed => _closed.Task;

    /// <summary>
    /// Completes when the server's stream accept loop ended: with the exception AcceptAsync threw
    /// (<see cref="ConnectionResetException"/> when the client closed the connection), or null when the server stopped.
    /// </summary>
    public Task<Exception?> AcceptEnded => _acceptEnded.Task;

    /// <summary>
    /// The connection's application error code: after the client closed it, the code of the client's
    /// CONNECTION_CLOSE (RFC 9000 §19.19); -1 when none is known.
    /// </summary>
    public long ErrorCode => Context.Features.Get<IProtocolErrorCodeFeature>()!.Error;

    internal void Start() => _streams = RunAsync();

    private async Task RunAsync()
    {
        try
        {
            if (_server.SendSettings) await SendControlAsync(H3Frames.Settings()).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The client may already be gone; the accept loop below reports how the connection ended.
        catch (Exception)
#pragma warning restore CA1031
        {
        }

        while (true)
        {
            ConnectionContext? stream;
            try
            {
                stream = await Context.AcceptAsync(_server.Stopping).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // How the connection ended is the test's business.
            catch (Exception e)
#pragma warning restore CA1031
            {
                _acceptEnded.TrySetResult(e);
                return;
            }

            if (stream is null)
            {
                _acceptEnded.TrySetResult(null);
                return;
            }

            if (stream.Features.Get<IStreamDirectionFeature>() is { CanWrite: false })
            {
                _ = DrainAsync(stream.Transport.Input); // the client's control stream (RFC 9114 §6.2.1): not interpreted
            }
            else
            {
                _ = _server.HandleRequestAsync(new ScriptedStream(this, stream));
            }
        }
    }

    private static async Task DrainAsync(PipeReader input)
    {
        try
        {
            while (true)
            {
                ReadResult result = await input.ReadAsync().ConfigureAwait(false);
                input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled) return;
            }
        }
#pragma warning disable CA1031 // The connection ended under the stream.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>
    /// Writes <paramref name="bytes"/> on the server's control stream, opening it first (stream type 0x00, RFC 9114
    /// §6.2.1) if needed. With <see cref="ScriptedHttp3Server.SendSettings"/> false, the first bytes written here are the
    /// stream's first frame, whatever they are.
    /// </summary>
    public async Task SendControlAsync(ReadOnlyMemory<byte> bytes)
    {
        await _controlLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_control is null)
            {
                _control = await Context.ConnectAsync(UnidirectionalStreamRequest.Features).ConfigureAwait(false);
                await _control.Transport.Output.WriteAsync(new byte[] { (byte)Http3StreamType.Control }).ConfigureAwait(false);
            }

            await _control.Transport.Output.WriteAsync(bytes).ConfigureAwait(false);
        }
        finally
        {
            _controlLock.Release();
        }
    }

    /// <summary>CONNECTION_CLOSE with the application error <paramref name="code"/> (RFC 9000 §10.2, RFC 9114 §8).</summary>
    public void Close(long code, string reason = "scripted close")
    {
        Context.Features.Get<IProtocolErrorCodeFeature>()!.Error = code;
        Context.Abort(new ConnectionAbortedException(reason));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _streams.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }

        _controlLock.Dispose();
    }
}

/// <summary>One request stream of a <see cref="ScriptedHttp3Server"/>: the request as read, and raw access to answer it.</summary>
internal sealed class ScriptedStream
{
    private readonly ConnectionContext _stream;
    private readonly List<(string Name, string Value)> _fields = [];
    private readonly List<byte> _body = [];

    internal ScriptedStream(ScriptedConnection connection, ConnectionContext stream)
    {
        Connection = connection;
        _stream = stream;
        StreamId = stream.Features.Get<IStreamIdFeature>()!.StreamId;
    }

    public ScriptedConnection Connection { get; }

    /// <summary>The QUIC stream ID (RFC 9000 §2.1): 0, 4, 8, … for client requests.</summary>
    public long StreamId { get; }

    /// <summary>The request's fields, pseudo-headers included, in order.</summary>
    public IReadOnlyList<(string Name, string Value)> RequestFields => _fields;

    public string Method => Field(":method");

    public string Path => Field(":path");

    public byte[] RequestBody => [.. _body];

    /// <summary>
    /// The stream's error code: set when the client sent STOP_SENDING or RESET_STREAM (or when the scenario reset
    /// the stream itself); -1 before.
    /// </summary>
    public long ErrorCode => _stream.Features.Get<IProtocolErrorCodeFeature>()!.Error;

    public string Field(string name)
    {
        foreach ((string n, string v) in _fields)
        {
            if (n == name) return v;
        }

        return string.Empty;
    }

    /// <summary>Reads the request up to its FIN: the first HEADERS is decoded, DATA collected, everything else skipped.</summary>
    internal async Task ReadRequestAsync(CancellationToken cancellationToken)
    {
        PipeReader input = _stream.Transport.Input;
        while (true)
        {
            (ulong Type, long Length)? header = await Http3FramePipeReader.ReadHeaderAsync(input, cancellationToken).ConfigureAwait(false);
            if (header is not { } frame) return;
            byte[] payload = new byte[frame.Length];
            await Http3FramePipeReader.ReadPayloadAsync(input, payload, cancellationToken).ConfigureAwait(false);
            if (frame.Type == Http3FrameType.Headers && _fields.Count == 0)
            {
                QpackDecoder.Decode(payload, new FieldCollector(_fields), int.MaxValue);
            }
            else if (frame.Type == Http3FrameType.Data)
            {
                _body.AddRange(payload);
            }
        }
    }

    /// <summary>Writes raw bytes on the stream and flushes them.</summary>
    public async Task WriteAsync(params byte[][] parts)
    {
        foreach (byte[] part in parts) await _stream.Transport.Output.WriteAsync(part).ConfigureAwait(false);
    }

    /// <summary>Ends the response: the stream's FIN (RFC 9000 §3.1).</summary>
    public async Task CompleteAsync() => await _stream.Transport.Output.CompleteAsync().ConfigureAwait(false);

    /// <summary>Writes <paramref name="parts"/>, then the FIN.</summary>
    public async Task RespondAsync(params byte[][] parts)
    {
        await WriteAsync(parts).ConfigureAwait(false);
        await CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>RESET_STREAM and STOP_SENDING with <paramref name="code"/> (RFC 9114 §4.1.1).</summary>
    public void Reset(long code)
    {
        _stream.Features.Get<IProtocolErrorCodeFeature>()!.Error = code;
        _stream.Abort(new ConnectionAbortedException("scripted reset"));
    }

    private sealed class FieldCollector(List<(string Name, string Value)> fields) : IQpackFieldHandler
    {
        public void OnField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
            => fields.Add((Encoding.ASCII.GetString(name), Encoding.Latin1.GetString(value)));
    }
}
