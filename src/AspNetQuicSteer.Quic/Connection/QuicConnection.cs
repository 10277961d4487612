using System.Net;
using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Recovery;
using AspNetQuicSteer.Quic.Streams;
using AspNetQuicSteer.Quic.Tls;
using AspNetQuicSteer.Quic.TransportParameters;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Connection;


internal enum QuicConnectionState
{
    Handshaking,
    Connected,

    /// <summary>RFC 9000 §10.2.1: we sent CONNECTION_CLOSE and only answer with it.</summary>
    Closing,

    /// <summary>RFC 9000 §10.2.2: the peer closed; we send nothing.</summary>
    Draining,
    Closed,
}

/// <summary>
/// A sans-IO QUIC v1 connection (the quinn model): datagrams and the current time go in through
/// <see cref="HandleDatagram"/> and <see cref="HandleTimeout"/>; datagrams to send, the next timeout and
/// events come out through <see cref="PollTransmit"/>, <see cref="NextTimeout"/> and <see cref="TryPollEvent"/>.
/// No socket and no clock inside. Split by concern: .Receive (packets and frames in), .Send (packetization),
/// .Recovery (ACKs, loss, PTO), .Close (closing and draining), .Tls (the crypto seam).
/// </summary>
internal sealed partial class QuicConnection : IDisposable
{
    /// <summary>QUIC version 1 (RFC 9000 §15).</summary>
    public const uint Version1 = 1;

    /// <summary>RFC 9000 §14.1: datagrams with Initial packets are at least 1200 bytes.</summary>
    public const int MinInitialDatagramSize = 1200;

    private readonly PacketNumberSpace[] _spaces =
    [
        new(PacketNumberSpaceId.Initial),
        new(PacketNumberSpaceId.Handshake),
        new(PacketNumberSpaceId.Application),
    ];

    private readonly Queue<QuicConnectionEvent> _events = new();
    private readonly QuicConnectionOptions _options;
    private readonly IQuicTlsSession _tls;
    private readonly RttEstimator _rtt = new();

    /// <summary>RFC 9001 §6.6: forged-packet failures are counted across every key of the connection.</summary>
    private readonly AeadIntegrityCounter _integrity = new();

    private readonly QuicStreamManager _streams;
    private TimeSpan _lastActivity;
    private TimeSpan _lastLivenessProbe;
    private bool _handshakeDonePending;

    private QuicConnection(
        bool isClient,
        QuicConnectionOptions options,
        ConnectionId localConnectionId,
        ConnectionId remoteConnectionId,
        ConnectionId originalDestinationConnectionId,
        Func<ReadOnlyMemory<byte>, IQuicTlsSession> tlsFactory,
        EndPoint remote,
        TimeSpan now,
        RetryContext? retry = null)
    {
        IsClient = isClient;
        _serverRetry = retry;

        // RFC 9000 §8.1: a server's path starts unvalidated (3x limit) unless a Retry token validated it (§8.1.2).
        _path = new QuicPath(remote, validated: isClient || retry is not null);
        _receivingPath = _path;
        _options = options;
        _localConnectionId = localConnectionId;
        _remoteConnectionId = remoteConnectionId;
        RemoteConnectionIdAtHandshake = remoteConnectionId;
        OriginalDestinationConnectionId = originalDestinationConnectionId;
        _lastActivity = now;
        _streams = new QuicStreamManager(isServer: !isClient, options.Streams);
        InitializeConnectionIds();
        Congestion = options.CongestionControl?.Create(now, MaxDatagramSize);
        InstallInitialKeys(originalDestinationConnectionId);
        LocalTransportParameters = BuildLocalTransportParameters();
        byte[] encoded = new byte[LocalTransportParameters.GetEncodedLength()];
        LocalTransportParameters.Encode(encoded);
        EncodedLocalTransportParameters = encoded;
        _tls = tlsFactory(encoded);
        if (_tls.IsClient != isClient)
        {
            throw new ArgumentException("The TLS session's role does not match the connection's.", nameof(tlsFactory));
        }
    }

    public bool IsClient { get; }

    private readonly RetryContext? _serverRetry;

    public QuicConnectionState State { get; private set; } = QuicConnectionState.Handshaking;

    // Fields rather than auto-properties: ConnectionId.Span is [UnscopedRef], and spans over heap fields can be
    // handed to the packet writers without copying.
    private readonly ConnectionId _localConnectionId;
    private ConnectionId _remoteConnectionId;

    /// <summary>The CID we chose for ourselves; the peer puts it in the DCID of its packets.</summary>
    public ConnectionId LocalConnectionId => _localConnectionId;

    /// <summary>The CID the peer chose; we put it in the DCID of our packets (RFC 9000 §7.2).</summary>
    public ConnectionId RemoteConnectionId => _remoteConnectionId;

    /// <summary>The DCID that keys the Initial secrets (RFC 9001 §5.2): the client's first DCID, or a Retry's SCID.</summary>
    public ConnectionId OriginalDestinationConnectionId { get; }

    public QuicTransportParameters LocalTransportParameters { get; }

    /// <summary>Our transport parameters as carried in the quic_transport_parameters extension (RFC 9001 §8.2).</summary>
    public ReadOnlyMemory<byte> EncodedLocalTransportParameters { get; }

    public QuicTransportParameters? PeerTransportParameters { get; private set; }

    public IQuicTlsSession Tls => _tls;

    public bool IsHandshakeComplete { get; private set; }

    public bool IsHandshakeConfirmed { get; private set; }

    public QuicConnectionError? CloseError { get; private set; }

    public QuicConnectionStats Stats { get; } = new();

    public RttEstimator Rtt => _rtt;

    /// <summary>Creates a client connection and queues its ClientHello (RFC 9000 §7, RFC 9001 §4.1).</summary>
    public static QuicConnection CreateClient(
        QuicConnectionOptions options,
        Func<ReadOnlyMemory<byte>, IQuicTlsSession> tlsFactory,
        EndPoint remote,
        TimeSpan now)
    {
        // RFC 9000 §7.2: the client's first DCID is unpredictable and at least 8 bytes.
        var originalDcid = new RandomConnectionIdGenerator(8).Generate();
        var connection = new QuicConnection(true, options, options.ConnectionIdGenerator.Generate(), originalDcid, originalDcid, tlsFactory, remote, now);
        connection._tls.Start();
        connection.DrainTls();
        return connection;
    }

    /// <summary>
    /// Creates a server connection for a client's first Initial (RFC 9000 §7.2). <paramref name="initialDestinationConnectionId"/>
    /// is that Initial's DCID, which keys the Initial secrets; after a Retry, <paramref name="retry"/> carries the
    /// client's original DCID and the Retry's SCID from the validated token, for the transport parameters (§7.3).
    /// </summary>
    public static QuicConnection CreateServer(
        QuicConnectionOptions options,
        ConnectionId localConnectionId,
        ConnectionId clientSourceConnectionId,
        ConnectionId initialDestinationConnectionId,
        Func<ReadOnlyMemory<byte>, IQuicTlsSession> tlsFactory,
        EndPoint remote,
        TimeSpan now,
        RetryContext? retry = null)
        => new(false, options, localConnectionId, clientSourceConnectionId, initialDestinationConnectionId, tlsFactory, remote, now, retry);

    public bool TryPollEvent(out QuicConnectionEvent connectionEvent) => _events.TryDequeue(out connectionEvent);

    private PacketNumberSpace Space(PacketNumberSpaceId id) => _spaces[(int)id];

    private QuicTransportParameters BuildLocalTransportParameters()
    {
        var parameters = new QuicTransportParameters
        {
            MaxIdleTimeoutMilliseconds = (ulong)_options.IdleTimeout.TotalMilliseconds,
            AckDelayExponent = (ulong)_options.AckDelayExponent,
            MaxAckDelayMilliseconds = (ulong)_options.MaxAckDelay.TotalMilliseconds,
            ActiveConnectionIdLimit = _options.ActiveConnectionIdLimit,

            // RFC 9000 §7.3: both sides authenticate the CIDs used during the handshake.
            InitialSourceConnectionId = LocalConnectionId,
            Extensions = _options.ExtensionTransportParameters,
        };

        // RFC 9000 §18.2: initial_max_data, initial_max_stream_data_*, initial_max_streams_* come from the streams.
        _streams.FillLocalTransportParameters(parameters);

        if (!IsClient)
        {
            parameters.OriginalDestinationConnectionId = _serverRetry?.OriginalDestinationConnectionId ?? OriginalDestinationConnectionId;
            parameters.RetrySourceConnectionId = _serverRetry?.RetrySourceConnectionId;

            // RFC 9000 §18.2: the reset token for the handshake connection ID (sequence 0).
            parameters.StatelessResetToken = new StatelessResetToken(_localIds[0].ResetToken);
        }

        return parameters;
    }

    private void InstallInitialKeys(ConnectionId originalDcid)
    {
        // RFC 9001 §5.2: Initial keys come from the client's first DCID.
        Span<byte> clientSecret = stackalloc byte[32];
        Span<byte> serverSecret = stackalloc byte[32];
        InitialSecrets.Derive(originalDcid.Span, clientSecret, serverSecret);
        PacketNumberSpace initial = Space(PacketNumberSpaceId.Initial);
        initial.ReadKeys?.Dispose();
        initial.WriteKeys?.Dispose();
        initial.WriteKeys = PacketProtectionKeys.Create(TlsCipherSuite.Aes128GcmSha256, IsClient ? clientSecret : serverSecret, _integrity);
        initial.ReadKeys = PacketProtectionKeys.Create(TlsCipherSuite.Aes128GcmSha256, IsClient ? serverSecret : clientSecret, _integrity);
    }

    public void Dispose()
    {
        foreach (PacketNumberSpace space in _spaces) space.Dispose();
        DisposeKeyUpdateState();
        _tls.Dispose();
    }
}
