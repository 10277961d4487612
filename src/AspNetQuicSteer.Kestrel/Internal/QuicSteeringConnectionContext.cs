using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;
using AspNetQuicSteer.Quic.Connection;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.Logging;

namespace AspNetQuicSteer.Kestrel.Internal;

/// <summary>
/// One QUIC connection as Kestrel sees it. Features (KESTREL.md §1): the collection is writable (Kestrel adds its
/// own); <see cref="IProtocolErrorCodeFeature"/> carries the HTTP/3 code Kestrel sets before <see cref="Abort(ConnectionAbortedException)"/>;
/// <see cref="ITlsConnectionFeature"/> makes requests "https" and exposes the client certificate.
/// <para>Threading: public members are called by Kestrel on any thread; <c>Loop*</c> members run on the listener's
/// loop thread, the only thread that touches <see cref="Quic"/> (see <c>.Loop.cs</c>).</para>
/// </summary>
internal sealed partial class QuicSteeringConnectionContext : MultiplexedConnectionContext,
    IProtocolErrorCodeFeature, ITlsConnectionFeature, ITlsApplicationProtocolFeature, IConnectionIdFeature, IConnectionEndPointFeature,
    IConnectionItemsFeature
{
    private static readonly ReadOnlyMemory<byte> s_h3 = "h3"u8.ToArray();
    private readonly QuicSteeringLoop _loop;
    private readonly FeatureCollection _features = new();
    private readonly Channel<QuicSteeringStreamContext> _acceptedStreams =
        Channel.CreateUnbounded<QuicSteeringStreamContext>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _closedTokenSource = new();
    private IDictionary<object, object?>? _items;
    private long _error = -1;
    private int _aborted;

    public QuicSteeringConnectionContext(QuicSteeringLoop loop, QuicConnection quic, TimeSpan now)
    {
        _loop = loop;
        Quic = quic;
        StartedAt = now;
        ConnectionId = ConnectionIdentifiers.Next();
        LocalEndPoint = loop.BoundEndPoint;
        RemoteEndPoint = quic.RemoteAddress;

        _features.Set<IProtocolErrorCodeFeature>(this);
        _features.Set<ITlsConnectionFeature>(this);
        _features.Set<ITlsApplicationProtocolFeature>(this);
        _features.Set<IConnectionIdFeature>(this);
        _features.Set<IConnectionEndPointFeature>(this);
        _features.Set<IConnectionItemsFeature>(this);
    }

    /// <summary>The core connection; loop thread only.</summary>
    internal QuicConnection Quic { get; }

    internal QuicSteeringTransportOptions Options => _loop.Options;

    internal ILogger Logger => _loop.Logger;

    internal TimeSpan StartedAt { get; }

    public override string ConnectionId { get; set; }

    public override IFeatureCollection Features => _features;

    public override IDictionary<object, object?> Items
    {
        get => _items ??= new ConnectionItems();
        set => _items = value;
    }

    public override EndPoint? LocalEndPoint { get; set; }

    public override EndPoint? RemoteEndPoint { get; set; }

    public override CancellationToken ConnectionClosed
    {
        get => _closedTokenSource.Token;
        set => throw new NotSupportedException();
    }

    /// <summary>HTTP/3 error code for CONNECTION_CLOSE (RFC 9114 §8.1); Kestrel sets it before <see cref="Abort(ConnectionAbortedException)"/>.</summary>
    public long Error
    {
        get => Interlocked.Read(ref _error);
        set => ProtocolErrorCode.Set(ref _error, value);
    }

    public X509Certificate2? ClientCertificate { get; set; }

    public Task<X509Certificate2?> GetClientCertificateAsync(CancellationToken cancellationToken) => Task.FromResult(ClientCertificate);

    public ReadOnlyMemory<byte> ApplicationProtocol => s_h3;

    /// <summary>
    /// The next stream the client opened. Returns null when <paramref name="cancellationToken"/> is cancelled: that is
    /// Kestrel's graceful-close signal (StopProcessingNextRequest), KESTREL.md §4. Throws
    /// <see cref="ConnectionResetException"/> when the peer closed the connection and the abort reason after a
    /// local close, never returns null otherwise (Kestrel would spin).
    /// </summary>
    public override async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        ChannelReader<QuicSteeringStreamContext> reader = _acceptedStreams.Reader;
        try
        {
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (reader.TryRead(out QuicSteeringStreamContext? stream)) return stream;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return null;
        }

        throw new ConnectionAbortedException("The connection was closed.");
    }

    /// <summary>Opens a stream: unidirectional when the requested direction cannot read (Kestrel's control stream).</summary>
    public override async ValueTask<ConnectionContext> ConnectAsync(IFeatureCollection? features = null, CancellationToken cancellationToken = default)
    {
        bool bidirectional = features?.Get<IStreamDirectionFeature>() is not { CanRead: false };
        while (true)
        {
            (QuicSteeringStreamContext? stream, Task? wait) = await _loop.InvokeAsync(() => LoopTryOpenStream(bidirectional)).ConfigureAwait(false);
            if (stream is not null) return stream;
            await wait!.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Kestrel ends every connection here, with <see cref="Error"/> already set (possibly twice): CONNECTION_CLOSE with
    /// that application code, or <see cref="QuicSteeringTransportOptions.DefaultCloseErrorCode"/> (RFC 9000 §10.2).
    /// </summary>
    public override void Abort(ConnectionAbortedException abortReason)
    {
        if (Interlocked.Exchange(ref _aborted, 1) != 0) return;
        long code = Error >= 0 ? Error : Options.DefaultCloseErrorCode;
        QuicSteeringLog.ConnectionAborted(Logger, ConnectionId, code, abortReason.Message);
        _acceptedStreams.Writer.TryComplete(abortReason);
        Post(() => LoopClose((ulong)code, abortReason.Message));
    }

    public override void Abort() => Abort(new ConnectionAbortedException("The connection was aborted by the application."));

    public override ValueTask DisposeAsync()
    {
        // Kestrel aborts before disposing; a connection it never aborted (e.g. one that failed early) closes here.
        if (Volatile.Read(ref _aborted) == 0)
        {
            Abort(new ConnectionAbortedException("The connection was disposed."));
        }

        return base.DisposeAsync();
    }

    internal void Post(Action work) => _loop.Post(work);
}
