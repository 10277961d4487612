using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using AspNetQuicSteer.Client;

namespace AspNetQuicSteer.LoadTool;

/// <summary>
/// Makes the handler of one connection. Each -c connection is its own handler that may open one connection
/// (QuicSteeringHttp3Handler with MaxConnectionsPerOrigin = 1), so the connection count is exact and a reconnect
/// (GOAWAY, --new-connection-per-request) replaces the connection rather than adding one.
/// </summary>
internal static class HandlerFactory
{
    public static Func<HttpMessageHandler> Create(LoadOptions options, X509Certificate2Collection? trustedRoots)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.HttpVersion != LoadHttpVersion.Http3) return () => CreateSockets(options, trustedRoots);

        // Every connection's handler runs on the first one's UDP socket and loop thread: one I/O thread for the
        // whole load instead of one per connection, which on a small machine leaves the cores to the requests.
        QuicSteeringHttp3Handler? first = null;
        return () =>
        {
            QuicSteeringHttp3Handler handler = CreateHttp3(options, trustedRoots, first);
            first ??= handler;
            return handler;
        };
    }

    /// <summary>--http-version 3: ours; --timeout also bounds the wait for headers and body silences inside the handler.</summary>
    public static QuicSteeringHttp3Handler CreateHttp3(LoadOptions options, X509Certificate2Collection? trustedRoots, QuicSteeringHttp3Handler? shareEndpointsWith = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        QuicSteeringHttp3HandlerOptions handlerOptions = new()
        {
            MaxConnectionsPerOrigin = 1,
            MaxRequestsPerConnection = options.NewConnectionPerRequest ? 1 : 0,
            ResponseHeadersTimeout = options.Timeout,
            ReadIdleTimeout = options.Timeout,
            TrustedRootCertificates = trustedRoots,
        };

        if (options.Timeout < handlerOptions.ConnectTimeout)
        {
            handlerOptions.ConnectTimeout = options.Timeout;
        }

        if (options.Insecure)
        {
            handlerOptions.ServerCertificateCustomValidationCallback = static (_, _, _, _) => true;
        }

        return shareEndpointsWith is null ? new QuicSteeringHttp3Handler(handlerOptions) : new QuicSteeringHttp3Handler(handlerOptions, shareEndpointsWith);
    }

    /// <summary>
    /// --http-version 2 or 1.1: SocketsHttpHandler over TCP, one HTTP/2 connection (or, for 1.1, up to -m connections,
    /// one per stream, as HTTP/1.1 has one request at a time). Redirects, cookies, proxies and decompression are off.
    /// With --new-connection-per-request every request gets its own SocketsHttpHandler (PooledConnectionLifetime = 0
    /// does not stop HTTP/2 reuse), closed when its response is disposed.
    /// </summary>
    public static HttpMessageHandler CreateSockets(LoadOptions options, X509Certificate2Collection? trustedRoots)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.NewConnectionPerRequest
            ? new FreshConnectionHandler(() => CreateSocketsHandler(options, trustedRoots))
            : CreateSocketsHandler(options, trustedRoots);
    }

    private static SocketsHttpHandler CreateSocketsHandler(LoadOptions options, X509Certificate2Collection? trustedRoots)
    {
        SocketsHttpHandler handler = new()
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            MaxConnectionsPerServer = options.HttpVersion == LoadHttpVersion.Http11 ? options.Streams : 1,
            EnableMultipleHttp2Connections = false,
            ConnectTimeout = options.Timeout < TimeSpan.FromSeconds(10) ? options.Timeout : TimeSpan.FromSeconds(10),
        };

        if (options.Insecure)
        {
#pragma warning disable CA5359 // --insecure asks for exactly this: load tests against self-signed servers.
            handler.SslOptions.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
#pragma warning restore CA5359
        }
        else if (trustedRoots is not null)
        {
            X509ChainPolicy policy = new() { TrustMode = X509ChainTrustMode.CustomRootTrust };
            policy.CustomTrustStore.AddRange(trustedRoots);
            handler.SslOptions.CertificateChainPolicy = policy;
        }

        return handler;
    }
}

/// <summary>
/// Sends each request through a new inner handler (so on a new connection) and disposes that handler with the
/// response, after its body was read. For SocketsHttpHandler with --new-connection-per-request.
/// </summary>
internal sealed class FreshConnectionHandler : HttpMessageHandler
{
    private readonly Func<HttpMessageHandler> _factory;

    public FreshConnectionHandler(Func<HttpMessageHandler> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        _factory = factory;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        HttpMessageHandler handler = _factory();
        try
        {
            using HttpMessageInvoker invoker = new(handler, disposeHandler: false);
            HttpResponseMessage response = await invoker.SendAsync(request, cancellationToken).ConfigureAwait(false);
            response.Content = new OwningContent(response.Content, handler);
            return response;
        }
        catch
        {
            handler.Dispose();
            throw;
        }
    }

    /// <summary>A response body that disposes the handler (closing its connection) when it is disposed.</summary>
    private sealed class OwningContent : HttpContent
    {
        private readonly HttpContent _inner;
        private readonly IDisposable _owner;

        public OwningContent(HttpContent inner, IDisposable owner)
        {
            _inner = inner;
            _owner = owner;
            foreach (KeyValuePair<string, HeaderStringValues> header in inner.Headers.NonValidated)
            {
                Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context)
            => _inner.CopyToAsync(stream);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
            => _inner.CopyToAsync(stream, cancellationToken);

        protected override Task<Stream> CreateContentReadStreamAsync() => _inner.ReadAsStreamAsync();

        protected override Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) => _inner.ReadAsStreamAsync(cancellationToken);

        protected override bool TryComputeLength(out long length)
        {
            length = _inner.Headers.ContentLength ?? 0;
            return _inner.Headers.ContentLength is not null;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
                _owner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
