namespace AspNetQuicSteer.Kestrel;

/// <summary>
/// Settings of the QUIC transport Kestrel's HTTP/3 runs on. Defaults follow Kestrel's built-in QUIC transport where it
/// has the same knob; bound from the <c>QuicSteering:Transport</c> configuration section by <c>UseQuicSteering()</c>.
/// </summary>
public sealed class QuicSteeringTransportOptions
{
    private int _maxBidirectionalStreamCount = 100;
    private int _maxUnidirectionalStreamCount = 10;
    private long _maxReadBufferSize = 1024 * 1024;
    private long _maxWriteBufferSize = 64 * 1024;
    private TimeSpan _idleTimeout = TimeSpan.FromMinutes(3);
    private TimeSpan _handshakeTimeout = TimeSpan.FromSeconds(10);
    private long _defaultStreamErrorCode = 0x10C;
    private long _defaultCloseErrorCode = 0x100;
    private int _socketReceiveBufferSize = 4 * 1024 * 1024;
    private int _socketSendBufferSize = 4 * 1024 * 1024;
    private int _maxConnections = 10_000;
    private string? _cibirId;
    private string? _quicLbServerId;
    private int _quicLbConfigRotation;
    private TimeSpan _probation = TimeSpan.FromSeconds(30);
    private int? _generationId;

    /// <summary>Concurrent request streams a client may open (MAX_STREAMS, RFC 9000 §4.6). Default 100.</summary>
    public int MaxBidirectionalStreamCount
    {
        get => _maxBidirectionalStreamCount;
        set => _maxBidirectionalStreamCount = CheckRange(value, 1, 1 << 20);
    }

    /// <summary>
    /// Concurrent unidirectional streams a client may open. At least 3: HTTP/3 needs the control, QPACK encoder and
    /// QPACK decoder streams (RFC 9114 §6.2). Default 10.
    /// </summary>
    public int MaxUnidirectionalStreamCount
    {
        get => _maxUnidirectionalStreamCount;
        set => _maxUnidirectionalStreamCount = CheckRange(value, 3, 1 << 20);
    }

    /// <summary>
    /// Request body bytes buffered per stream before the transport stops reading (and so stops extending the peer's
    /// flow-control credit). Default 1 MiB.
    /// </summary>
    public long MaxReadBufferSize
    {
        get => _maxReadBufferSize;
        set => _maxReadBufferSize = CheckRange(value, 4096, 1L << 30);
    }

    /// <summary>Response bytes buffered per stream before the application's writes wait. Default 64 KiB.</summary>
    public long MaxWriteBufferSize
    {
        get => _maxWriteBufferSize;
        set => _maxWriteBufferSize = CheckRange(value, 4096, 1L << 30);
    }

    /// <summary>
    /// QUIC idle timeout (RFC 9000 §10.1). Kestrel ends idle HTTP/3 connections itself (KeepAliveTimeout, 130 s, with a
    /// GOAWAY), so keep this longer; it reaps connections whose client vanished. Zero disables it. Default 3 minutes.
    /// </summary>
    public TimeSpan IdleTimeout
    {
        get => _idleTimeout;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
            _idleTimeout = value;
        }
    }

    /// <summary>A connection that has not completed its handshake by then is closed. Default 10 s.</summary>
    public TimeSpan HandshakeTimeout
    {
        get => _handshakeTimeout;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero);
            _handshakeTimeout = value;
        }
    }

    /// <summary>HTTP/3 code for stream aborts without one (H3_REQUEST_CANCELLED, RFC 9114 §8.1). Default 0x10C.</summary>
    public long DefaultStreamErrorCode
    {
        get => _defaultStreamErrorCode;
        set => _defaultStreamErrorCode = CheckRange(value, 0, (1L << 62) - 1);
    }

    /// <summary>HTTP/3 code for connection closes without one (H3_NO_ERROR, RFC 9114 §8.1). Default 0x100.</summary>
    public long DefaultCloseErrorCode
    {
        get => _defaultCloseErrorCode;
        set => _defaultCloseErrorCode = CheckRange(value, 0, (1L << 62) - 1);
    }

    /// <summary>Connections (including handshakes in progress) one listener keeps; further Initials are dropped. Default 10,000.</summary>
    public int MaxConnections
    {
        get => _maxConnections;
        set => _maxConnections = CheckRange(value, 1, 1 << 24);
    }

    /// <summary>
    /// Validate client addresses with a Retry round trip before keeping state (RFC 9000 §8.1.2). Costs one round trip
    /// for clients without a NEW_TOKEN token; protects against spoofed-source floods. Default false.
    /// </summary>
    public bool RequireAddressValidation { get; set; }

    /// <summary>UDP generic segmentation offload on send (Linux UDP_SEGMENT). Default true.</summary>
    public bool EnableGso { get; set; } = true;

    /// <summary>UDP generic receive offload (Linux UDP_GRO). Default true.</summary>
    public bool EnableGro { get; set; } = true;

    /// <summary>SO_RCVBUF requested for the UDP socket (the kernel may cap it). Default 4 MiB.</summary>
    public int SocketReceiveBufferSize
    {
        get => _socketReceiveBufferSize;
        set => _socketReceiveBufferSize = CheckRange(value, 64 * 1024, 1 << 30);
    }

    /// <summary>SO_SNDBUF requested for the UDP socket (the kernel may cap it). Default 4 MiB.</summary>
    public int SocketSendBufferSize
    {
        get => _socketSendBufferSize;
        set => _socketSendBufferSize = CheckRange(value, 64 * 1024, 1 << 30);
    }

    /// <summary>
    /// How several generations (processes) of the app share the UDP port (ARCHITECTURE.md §6): each process joins the
    /// port's generation group, new connections go to the newest generation and established ones stay with theirs.
    /// <see cref="QuicSteeringDataplane.Automatic"/> (default) adopts the port's dataplane, and the first process
    /// picks eBPF when privileged, else classic BPF. Port 0 (a dynamic port) and non-Linux platforms never share.
    /// </summary>
    public QuicSteeringDataplane Dataplane { get; set; } = QuicSteeringDataplane.Automatic;

    /// <summary>
    /// The app's name on a shared port: generations of one app share it; another app on the same port is refused
    /// (port-sharing matrix). Null: the entry assembly's name (UseQuicSteering() sets the host's ApplicationName).
    /// </summary>
    public string? ApplicationName { get; set; }

    /// <summary>
    /// Lets a different app share the port (draft-banks-quic-cibir): this app's CIBIR ID in hex (1 to 20 bytes, e.g.
    /// "a1b2"). Cooperating clients put it at the start of their source connection ID, and the port routes their new
    /// connections to this app while every other new connection goes to the port's default app (the one without a
    /// CIBIR ID). No two apps' IDs may prefix one another. Null (default): this app is the port's default app.
    /// </summary>
    public string? CibirId
    {
        get => _cibirId;
        set => _cibirId = CheckHex(value, 20, "A CIBIR ID is 1 to 20 bytes: it must fit a QUIC v1 connection ID (RFC 9000 §17.2).", "a1b2");
    }

    /// <summary>
    /// This host's QUIC-LB server ID in hex (draft-ietf-quic-load-balancers §5.3; 1 to 11 bytes here, so that with the
    /// 8-byte nonce the connection ID fits 20 bytes), for a load balancer in front of several hosts that routes by it.
    /// Every generation on the port must use the same one. Null (default): the port's first generation picks a
    /// random 3-byte ID.
    /// </summary>
    public string? QuicLbServerId
    {
        get => _quicLbServerId;
        set => _quicLbServerId = CheckHex(value, MaxQuicLbServerIdLength, $"A QUIC-LB server ID here is 1 to {MaxQuicLbServerIdLength} bytes.", "0a0b0c");
    }

    /// <summary>The QUIC-LB config rotation bits (0..6, draft-ietf-quic-load-balancers §3.1) that go with <see cref="QuicLbServerId"/>. Default 0.</summary>
    public int QuicLbConfigRotation
    {
        get => _quicLbConfigRotation;
        set => _quicLbConfigRotation = CheckRange(value, 0, 6);
    }

    /// <summary>Longest server ID: 1 + ID + 8-byte nonce must fit a 20-byte connection ID (RFC 9000 §17.2).</summary>
    internal const int MaxQuicLbServerIdLength = 11;

    /// <summary>
    /// The generation ID (1..255) this process joins its port's group as, e.g. one a deployment tool assigns so that
    /// logs, metrics and connection IDs name the release. It is written into every connection ID (ARCHITECTURE.md §5);
    /// a live generation already holding it makes startup fail. Null (default): the coordinator allocates the next
    /// free ID.
    /// </summary>
    public int? GenerationId
    {
        get => _generationId;
        set => _generationId = value is { } id ? CheckRange(id, 1, 255) : null;
    }

    /// <summary>
    /// Where the port's control, forwarding and share sockets live: the coordinator's control socket is
    /// <c>&lt;directory&gt;/&lt;address&gt;_&lt;port&gt;.sock</c>; every generation of the port must use the same directory.
    /// Null: $XDG_RUNTIME_DIR/aspnetquicsteer, /run/aspnetquicsteer for root, else /tmp/aspnetquicsteer-&lt;uid&gt;
    /// (0700, owned by the user).
    /// </summary>
    public string? SteeringDirectory { get; set; }

    /// <summary>
    /// Announce this generation Ready and activate it (take over new connections) as soon as it is bound; UseQuicSteering()
    /// turns this off and activates when the application has started instead. Default true.
    /// </summary>
    public bool ActivateWhenBound { get; set; } = true;

    /// <summary>
    /// After a new generation activates, how long a crash of it (its control connection dropping) hands new connections
    /// back to the generation it displaced (ARCHITECTURE.md invariant 6); the displaced generation stays able to take
    /// them back until then. Applies to the port when this process is the first generation on it. Default 30 s.
    /// </summary>
    public TimeSpan Probation
    {
        get => _probation;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
            _probation = value;
        }
    }

    /// <summary>The clock the transport runs on; tests substitute it.</summary>
    internal TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Null for null or empty; otherwise <paramref name="value"/> if it is hex for 1 to <paramref name="maxBytes"/> bytes.</summary>
    private static string? CheckHex(string? value, int maxBytes, string lengthRule, string example,
        [System.Runtime.CompilerServices.CallerMemberName] string? name = null)
    {
        if (string.IsNullOrEmpty(value)) return null;
        byte[] bytes;
        try
        {
            bytes = Convert.FromHexString(value);
        }
        catch (FormatException e)
        {
            throw new ArgumentException($"{name} must be hex digits (e.g. \"{example}\"); got \"{value}\".", nameof(value), e);
        }

        return bytes.Length is 0 || bytes.Length > maxBytes ? throw new ArgumentOutOfRangeException(nameof(value), value, lengthRule) : value;
    }

    private static T CheckRange<T>(T value, T min, T max, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(value))] string? name = null)
        where T : System.Numerics.INumber<T>
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(value, min, name);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(value, max, name);
        return value;
    }
}
