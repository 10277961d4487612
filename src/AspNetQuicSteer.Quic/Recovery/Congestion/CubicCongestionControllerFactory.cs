namespace AspNetQuicSteer.Quic.Recovery.Congestion;

/// <summary>
/// Creates <see cref="CubicCongestionController"/>s (RFC 9438) with validated options; the transport's default.
/// </summary>
internal sealed class CubicCongestionControllerFactory : ICongestionControllerFactory
{
    private readonly CubicCongestionControllerOptions _options;

    public CubicCongestionControllerFactory()
        : this(new CubicCongestionControllerOptions())
    {
    }

    public CubicCongestionControllerFactory(CubicCongestionControllerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
    }

    public CubicCongestionControllerOptions Options => _options;

    public ICongestionController Create(TimeSpan now, int maxDatagramSize)
        => new CubicCongestionController(now, maxDatagramSize, _options);
}
