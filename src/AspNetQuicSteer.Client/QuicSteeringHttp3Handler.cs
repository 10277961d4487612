using AspNetQuicSteer.Client.Internal;

namespace AspNetQuicSteer.Client;

/// <summary>
/// An <see cref="HttpMessageHandler"/> that speaks HTTP/3 (RFC 9114) on the project's managed QUIC stack, so it needs
/// no libmsquic. Every request goes over HTTP/3 to its URI's origin (https only); connections are pooled per origin
/// and carry many concurrent requests. A request the server provably did not process (above its GOAWAY, or refused
/// with H3_REQUEST_REJECTED) is sent again on a new connection, so a server that restarts gracefully loses none.
/// Failures are <see cref="Http3RequestException"/> subtypes: handshake, protocol, connection reset, timeout.
/// </summary>
public sealed class QuicSteeringHttp3Handler : HttpMessageHandler
{
    private readonly Http3ClientHandlerCore _core;

    public QuicSteeringHttp3Handler()
        : this(new QuicSteeringHttp3HandlerOptions())
    {
    }

    public QuicSteeringHttp3Handler(QuicSteeringHttp3HandlerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _core = new Http3ClientHandlerCore(options);
    }

    /// <summary>A handler with its own pools whose connections run on <paramref name="shareEndpointsWith"/>'s sockets and loop threads.</summary>
    internal QuicSteeringHttp3Handler(QuicSteeringHttp3HandlerOptions options, QuicSteeringHttp3Handler shareEndpointsWith)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(shareEndpointsWith);
        _core = new Http3ClientHandlerCore(options, shareEndpointsWith._core);
    }

    /// <summary>The options the handler was created with (tests and tools inspect them).</summary>
    internal QuicSteeringHttp3HandlerOptions Options => _core.Options;

    /// <summary>Counters since the handler was created.</summary>
    public QuicSteeringHttp3HandlerStatistics GetStatistics() => _core.Counters.Snapshot();

    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
        => SendAsync(request, cancellationToken).GetAwaiter().GetResult();

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        Uri uri = request.RequestUri ?? throw new InvalidOperationException("The request has no URI.");
        if (!uri.IsAbsoluteUri || !string.Equals(uri.Scheme, Uri.UriSchemeHttps, StringComparison.OrdinalIgnoreCase))
        {
            throw new NotSupportedException($"HTTP/3 needs an absolute https URI (RFC 9114 §3.1); got '{uri}'.");
        }

        if (request.Method == HttpMethod.Connect) throw new NotSupportedException("CONNECT is not supported by this handler.");

        Http3ConnectionPool pool = _core.GetPool(uri);
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                Http3ClientConnection connection = await pool.RentAsync(request, cancellationToken).ConfigureAwait(false);
                HttpResponseMessage response = await connection.SendAsync(request, cancellationToken).ConfigureAwait(false);
                Interlocked.Increment(ref _core.Counters.RequestsCompleted);
                return response;
            }
            catch (Http3RetryableException retry) when (attempt < _core.Options.MaxRetries && !cancellationToken.IsCancellationRequested)
            {
                // RFC 9114 §5.2 / §4.1.1: the server did not process the request; another connection may.
                Interlocked.Increment(ref _core.Counters.RequestsRetried);
                QuicSteeringClientLog.RequestRetried(_core.Logger, request.Method.Method, uri, attempt + 1, retry.Message);
            }
            catch (Http3RetryableException retry)
            {
                Interlocked.Increment(ref _core.Counters.RequestsFailed);
                throw retry.Final;
            }
            catch
            {
                Interlocked.Increment(ref _core.Counters.RequestsFailed);
                throw;
            }
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _core.DisposeAsync().AsTask().GetAwaiter().GetResult();
        base.Dispose(disposing);
    }
}
