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

    /// <summary>
    /// On a shared port, once a newer generation has taken over (this one is Draining): stop the host, so this
    /// process exits, as soon as its HTTP/3 connections have closed after their GOAWAY and the newer generation's
    /// probation is over, or when <see cref="DrainTimeout"/> expires. Default true.
    /// </summary>
    public bool ExitWhenDrained { get; set; } = true;

    /// <summary>
    /// How long a draining generation waits for its connections to finish before it stops the host anyway; the host's
    /// own ShutdownTimeout then bounds what is left. Default 30 s.
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
