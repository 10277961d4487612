using AspNetQuicSteer.Kestrel;

namespace AspNetQuicSteer.Hosting;

/// <summary>
/// Everything <c>UseQuicSteering()</c> configures, bound from the <c>QuicSteering</c> configuration section
/// (e.g. <c>"QuicSteering": { "Transport": { "MaxBidirectionalStreamCount": 200 } }</c>) and then from the
/// delegate passed to <c>UseQuicSteering</c>.
/// </summary>
public sealed class QuicSteeringOptions
{
    /// <summary>The configuration section bound to these options.</summary>
    public const string SectionName = "QuicSteering";

    /// <summary>The QUIC transport under Kestrel's HTTP/3.</summary>
    public QuicSteeringTransportOptions Transport { get; } = new();

    /// <summary>
    /// Fail startup when no endpoint got HTTP/3 (Kestrel otherwise skips HTTP/3 silently: no HTTPS, or a dynamic
    /// port with several protocols). Default true.
    /// </summary>
    public bool RequireHttp3 { get; set; } = true;

    /// <summary>What a new generation must pass before it takes over new connections on a shared port.</summary>
    public QuicSteeringHealthGateOptions HealthGate { get; } = new();

    /// <summary>
    /// Put the drain middleware (<c>app.UseQuicSteeringDrain()</c>) first in the request pipeline: while this generation
    /// drains, every request asks for its connection to close once it is answered (HTTP/1.1 <c>Connection: close</c>,
    /// HTTP/2 and HTTP/3 GOAWAY), so clients move to the newer generation; it also tells the drain which TCP connections
    /// have served a request and may be closed. Turn it off to place the middleware yourself.
    /// Default true.
    /// </summary>
    public bool AutomaticDrainMiddleware { get; set; } = true;

    /// <summary>
    /// On a shared port, once a newer generation has taken over (this one is Draining): stop the host, so this
    /// process exits, as soon as its HTTP/3 connections have closed after their GOAWAY and the newer generation's
    /// probation is over, or when <see cref="DrainTimeout"/> expires. Default true.
    /// </summary>
    public bool ExitWhenDrained { get; set; } = true;

    /// <summary>
    /// How long a draining generation waits for its connections to finish. Then, with <see cref="ExitWhenDrained"/>, the
    /// requests still running are aborted (HTTP/3: RESET_STREAM with H3_REQUEST_CANCELLED; HTTP/1.1 and HTTP/2: the
    /// connection is aborted) and the host stops. Default 30 s.
    /// </summary>
    public TimeSpan DrainTimeout
    {
        get => _drainTimeout;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero);
            _drainTimeout = value;
        }
    }

    private TimeSpan _drainTimeout = TimeSpan.FromSeconds(30);
}
