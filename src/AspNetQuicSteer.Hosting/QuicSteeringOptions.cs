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
}
