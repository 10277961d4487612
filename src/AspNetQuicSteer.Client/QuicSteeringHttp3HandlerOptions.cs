using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace AspNetQuicSteer.Client;

/// <summary>Settings of a <see cref="QuicSteeringHttp3Handler"/>. Read when the handler is created; later changes are ignored.</summary>
public sealed class QuicSteeringHttp3HandlerOptions
{
    private TimeSpan _connectTimeout = TimeSpan.FromSeconds(10);
    private TimeSpan _responseHeadersTimeout = TimeSpan.FromSeconds(100);
    private TimeSpan _readIdleTimeout = TimeSpan.FromSeconds(100);
    private TimeSpan _pooledConnectionIdleTimeout = TimeSpan.FromMinutes(1);
    private TimeSpan _idleTimeout = TimeSpan.FromMinutes(3);
    private int _maxConnectionsPerOrigin = 1;
    private int _maxRequestsPerConnection;
    private int _maxRetries = 3;
    private int _maxResponseHeadersLength = 64 * 1024;
    private int _endpointCount = 1;

    /// <summary>Time allowed for the QUIC and TLS handshake of a new connection. Default 10 s.</summary>
    public TimeSpan ConnectTimeout
    {
        get => _connectTimeout;
        set => _connectTimeout = Positive(value);
    }

    /// <summary>Time from sending a request until its response headers arrive; the stream is then reset. Default 100 s.</summary>
    public TimeSpan ResponseHeadersTimeout
    {
        get => _responseHeadersTimeout;
        set => _responseHeadersTimeout = PositiveOrInfinite(value);
    }

    /// <summary>Longest silence while a response body is read (a stalled server); the stream is then reset. Default 100 s.</summary>
    public TimeSpan ReadIdleTimeout
    {
        get => _readIdleTimeout;
        set => _readIdleTimeout = PositiveOrInfinite(value);
    }

    /// <summary>An unused pooled connection is closed after this long. Default 1 minute.</summary>
    public TimeSpan PooledConnectionIdleTimeout
    {
        get => _pooledConnectionIdleTimeout;
        set => _pooledConnectionIdleTimeout = Positive(value);
    }

    /// <summary>QUIC idle timeout advertised to servers (RFC 9000 §10.1). Default 3 minutes.</summary>
    public TimeSpan IdleTimeout
    {
        get => _idleTimeout;
        set => _idleTimeout = Positive(value);
    }

    /// <summary>
    /// Connections opened to one origin at most. A request waits for a stream when every connection reached the
    /// server's stream limit (RFC 9000 §4.6). Default 1.
    /// </summary>
    public int MaxConnectionsPerOrigin
    {
        get => _maxConnectionsPerOrigin;
        set => _maxConnectionsPerOrigin = Range(value, 1, 4096);
    }

    /// <summary>Requests sent on one connection before a new one is used; 0 is unlimited, 1 means a handshake per request. Default 0.</summary>
    public int MaxRequestsPerConnection
    {
        get => _maxRequestsPerConnection;
        set => _maxRequestsPerConnection = Range(value, 0, int.MaxValue);
    }

    /// <summary>
    /// How often a request the server provably did not process (above its GOAWAY, or refused with H3_REQUEST_REJECTED,
    /// RFC 9114 §5.2 and §4.1.1) is sent again on a new connection. Default 3.
    /// </summary>
    public int MaxRetries
    {
        get => _maxRetries;
        set => _maxRetries = Range(value, 0, 100);
    }

    /// <summary>Largest response field section accepted (SETTINGS_MAX_FIELD_SECTION_SIZE, RFC 9114 §4.2.2). Default 64 KiB.</summary>
    public int MaxResponseHeadersLength
    {
        get => _maxResponseHeadersLength;
        set => _maxResponseHeadersLength = Range(value, 1024, 16 * 1024 * 1024);
    }

    /// <summary>UDP sockets (each with its own I/O thread) the handler spreads connections over. Default 1.</summary>
    public int EndpointCount
    {
        get => _endpointCount;
        set => _endpointCount = Range(value, 1, 64);
    }

    /// <summary>When set, only these roots are trusted for server certificates instead of the system store.</summary>
    public X509Certificate2Collection? TrustedRootCertificates { get; set; }

    /// <summary>
    /// Decides on the server certificate; receives the errors the default validation found (chain, name). When null,
    /// a certificate is accepted only without errors.
    /// </summary>
    public Func<HttpRequestMessage, X509Certificate2, X509Chain, SslPolicyErrors, bool>? ServerCertificateCustomValidationCallback { get; set; }

    /// <summary>Sent when the server asks for a client certificate (it must have its private key).</summary>
    public X509Certificate2? ClientCertificate { get; set; }

    /// <summary>Logs connection life cycle and failures; null logs nothing.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>
    /// The client's source connection IDs (RFC 9000 §5.1). A CIBIR client (draft-banks-quic-cibir) puts the target
    /// app's ID in them so a shared port routes its new connections to that app. Internal until CIBIR is public API.
    /// </summary>
    internal AspNetQuicSteer.Quic.Connection.IConnectionIdGenerator? ConnectionIdGenerator { get; set; }

    /// <summary>Extension transport parameters the client sends, pre-encoded (e.g. cibir_encoding); internal like the CID generator.</summary>
    internal ReadOnlyMemory<byte> ExtensionTransportParameters { get; set; }

    /// <summary>Checks the server's raw transport parameters (e.g. that it echoed cibir_encoding).</summary>
    internal Func<ReadOnlyMemory<byte>, AspNetQuicSteer.Quic.Wire.QuicProtocolException?>? ValidatePeerTransportParameters { get; set; }

    /// <summary>The clock timeouts run on; tests substitute it.</summary>
    internal TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    private static TimeSpan Positive(TimeSpan value, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(value))] string? name = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero, name);
        return value;
    }

    private static TimeSpan PositiveOrInfinite(TimeSpan value, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(value))] string? name = null)
        => value == Timeout.InfiniteTimeSpan ? value : Positive(value, name);

    private static int Range(int value, int min, int max, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(value))] string? name = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(value, min, name);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(value, max, name);
        return value;
    }
}
