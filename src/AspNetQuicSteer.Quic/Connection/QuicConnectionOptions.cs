using System.Net;
using AspNetQuicSteer.Quic.Recovery.Congestion;
using AspNetQuicSteer.Quic.Streams;
using AspNetQuicSteer.Quic.TransportParameters;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Connection;

/// <summary>Transport settings of one connection; they become our transport parameters (RFC 9000 §18.2).</summary>
internal sealed class QuicConnectionOptions
{
    private TimeSpan _idleTimeout = TimeSpan.FromSeconds(30);
    private int _ackDelayExponent = 3;
    private TimeSpan _maxAckDelay = TimeSpan.FromMilliseconds(25);
    private TimeSpan _livenessProbeInterval;

    /// <summary>RFC 9000 §10.1 max_idle_timeout; zero disables the idle timeout.</summary>
    public TimeSpan IdleTimeout
    {
        get => _idleTimeout;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
            _idleTimeout = value;
        }
    }

    /// <summary>
    /// RFC 9000 §10.1.2: while a locally opened bidirectional stream waits for the peer's data (a request awaiting its
    /// response) and nothing arrived for this long (at least one PTO), send a PING. A live peer acknowledges it; a peer
    /// that lost the connection (a crashed server process) answers with a stateless reset (§10.3) instead of leaving
    /// the request to its timeout. Zero (default) disables it.
    /// </summary>
    public TimeSpan LivenessProbeInterval
    {
        get => _livenessProbeInterval;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
            _livenessProbeInterval = value;
        }
    }

    /// <summary>RFC 9000 §18.2 ack_delay_exponent (at most 20).</summary>
    public int AckDelayExponent
    {
        get => _ackDelayExponent;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 20);
            _ackDelayExponent = value;
        }
    }

    /// <summary>RFC 9000 §18.2 max_ack_delay (below 2^14 ms).</summary>
    public TimeSpan MaxAckDelay
    {
        get => _maxAckDelay;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(value, TimeSpan.FromMilliseconds(1 << 14));
            _maxAckDelay = value;
        }
    }

    /// <summary>Streams and flow control: buffer sizes, receive windows and their auto-tuning limits, stream limits.</summary>
    public QuicStreamOptions Streams { get; init; } = new();

    public ulong ActiveConnectionIdLimit { get; set; } = 4;

    /// <summary>Chooses the connection IDs we issue (RFC 9000 §5.1); Steering plugs in here.</summary>
    /// <summary>Extension transport parameters, pre-encoded (RFC 9000 §18), sent after the standard ones.</summary>
    public ReadOnlyMemory<byte> ExtensionTransportParameters { get; init; }

    /// <summary>
    /// Checks the peer's raw transport parameters when the handshake completes, for extensions the stack does not
    /// model (e.g. cibir_encoding); a returned exception closes the connection with its error code (RFC 9000 §7.4).
    /// </summary>
    public Func<ReadOnlyMemory<byte>, QuicProtocolException?>? ValidatePeerTransportParameters { get; init; }

    public IConnectionIdGenerator ConnectionIdGenerator { get; init; } = new RandomConnectionIdGenerator();

    /// <summary>Connection ID length this endpoint issues; short headers are parsed with it.</summary>
    public int LocalConnectionIdLength => ConnectionIdGenerator.ConnectionIdLength;

    /// <summary>
    /// Stateless reset token for one of our IDs (RFC 9000 §10.3.2). Null draws random tokens; a keyed function lets
    /// every generation of the app compute the same token.
    /// </summary>
    public Func<ConnectionId, StatelessResetToken>? StatelessResetTokens { get; set; }

    /// <summary>
    /// Server: issues a NEW_TOKEN token for a client address after the handshake (RFC 9000 §8.1.3); null issues none.
    /// The endpoint supplies one sealed with the keys all generations share.
    /// </summary>
    public Func<EndPoint, byte[]?>? NewTokens { get; set; }

    /// <summary>Congestion controller per path (RFC 9002 §7), CUBIC (RFC 9438) by default; null disables congestion control.</summary>
    public ICongestionControllerFactory? CongestionControl { get; init; } = new CubicCongestionControllerFactory();
}
