namespace AspNetQuicSteer.Client;

/// <summary>
/// An <see cref="HttpMessageHandler"/> that speaks HTTP/3 (RFC 9114) on the project's managed QUIC stack, so it needs
/// no libmsquic. Every request goes over HTTP/3 to the request URI's origin (https only).
/// </summary>
public sealed class QuicSteeringHttp3Handler : HttpMessageHandler
{
    public QuicSteeringHttp3Handler()
        : this(new QuicSteeringHttp3HandlerOptions())
    {
    }

    public QuicSteeringHttp3Handler(QuicSteeringHttp3HandlerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
    }

    internal QuicSteeringHttp3HandlerOptions Options { get; }

    /// <summary>Counters since the handler was created.</summary>
    public QuicSteeringHttp3HandlerStatistics GetStatistics() => throw new NotImplementedException();

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        => throw new NotImplementedException();
}
