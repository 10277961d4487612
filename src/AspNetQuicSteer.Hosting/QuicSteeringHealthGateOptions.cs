namespace AspNetQuicSteer.Hosting;

/// <summary>
/// What a new generation on a shared port must pass before it takes over new connections (its predecessor keeps
/// serving until then). Either check may be set, or both; with neither the generation activates as soon as the
/// application has started. A generation that does not pass within <see cref="Timeout"/> fails its startup and leaves
/// the port; its predecessor never stopped serving.
/// </summary>
public sealed class QuicSteeringHealthGateOptions
{
    private string? _path;
    private TimeSpan _timeout = TimeSpan.FromSeconds(30);
    private TimeSpan _retryInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// A path (e.g. <c>/healthz</c>) requested with GET over HTTP/3 on a private loopback socket of this generation's
    /// listener, through Kestrel and the whole application pipeline; any 2xx status passes. Null (default): no probe.
    /// </summary>
    public string? Path
    {
        get => _path;
        set
        {
            if (!string.IsNullOrEmpty(value) && (value[0] != '/' || !Uri.IsWellFormedUriString(value, UriKind.Relative)))
            {
                throw new ArgumentException($"The health gate path must be a relative URI starting with '/' (e.g. \"/healthz\"); got \"{value}\".", nameof(value));
            }

            _path = string.IsNullOrEmpty(value) ? null : value;
        }
    }

    /// <summary>
    /// A check run in this process (e.g. the database answers, caches are warm); true passes. It gets the application's
    /// services and a token cancelled at <see cref="Timeout"/>. An exception counts as a failed attempt. Null (default):
    /// no check.
    /// </summary>
    public Func<IServiceProvider, CancellationToken, Task<bool>>? Check { get; set; }

    /// <summary>How long the generation may take to pass; attempts repeat until then. Default 30 s.</summary>
    public TimeSpan Timeout
    {
        get => _timeout;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero);
            _timeout = value;
        }
    }

    /// <summary>Pause between failed attempts. Default 250 ms.</summary>
    public TimeSpan RetryInterval
    {
        get => _retryInterval;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero);
            _retryInterval = value;
        }
    }

    internal bool IsEnabled => _path is not null || Check is not null;
}
