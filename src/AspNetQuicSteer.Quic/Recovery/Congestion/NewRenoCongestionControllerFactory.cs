namespace AspNetQuicSteer.Quic.Recovery.Congestion;

/// <summary>Creates <see cref="NewRenoCongestionController"/>s (RFC 9002 §7) with validated options.</summary>
internal sealed class NewRenoCongestionControllerFactory : ICongestionControllerFactory
{
    private readonly NewRenoCongestionControllerOptions _options;

    public NewRenoCongestionControllerFactory()
        : this(new NewRenoCongestionControllerOptions())
    {
    }

    public NewRenoCongestionControllerFactory(NewRenoCongestionControllerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
    }

    public NewRenoCongestionControllerOptions Options => _options;

    public ICongestionController Create(TimeSpan now, int maxDatagramSize)
        => new NewRenoCongestionController(now, maxDatagramSize, _options);
}
