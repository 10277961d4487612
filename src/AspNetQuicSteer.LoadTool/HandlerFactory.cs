using System.Net;
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
        return options.HttpVersion == LoadHttpVersion.Http3
            ? () => CreateHttp3(options, trustedRoots)
            : () => CreateSockets(options, trustedRoots);
    }

    /// <summary>--http-version 3: ours; --timeout also bounds the wait for headers and body silences inside the handler.</summary>
    public static QuicSteeringHttp3Handler CreateHttp3(LoadOptions options, X509Certificate2Collection? trustedRoots)
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

        return new QuicSteeringHttp3Handler(handlerOptions);
    }

    /// <summary>
    /// --http-version 2 or 1.1: SocketsHttpHandler over TCP, one HTTP/2 connection (or, for 1.1, up to -m connections,
    /// one per stream, as HTTP/1.1 has one request at a time). Redirects, cookies, proxies and decompression are off.
    /// </summary>
    public static SocketsHttpHandler CreateSockets(LoadOptions options, X509Certificate2Collection? trustedRoots)
    {
        ArgumentNullException.ThrowIfNull(options);
        SocketsHttpHandler handler = new()
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            MaxConnectionsPerServer = options.HttpVersion == LoadHttpVersion.Http11 ? options.Streams : 1,
            EnableMultipleHttp2Connections = false,
            ConnectTimeout = options.Timeout < TimeSpan.FromSeconds(10) ? options.Timeout : TimeSpan.FromSeconds(10),

            // TimeSpan.Zero: a connection is not reused once a request is done with it.
            PooledConnectionLifetime = options.NewConnectionPerRequest ? TimeSpan.Zero : Timeout.InfiniteTimeSpan,
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
