namespace AspNetQuicSteer.Quic.Endpoint;

/// <summary>Counters of one endpoint; tests assert on them and metrics read them.</summary>
internal sealed class EndpointStats
{
    public long DatagramsDropped { get; set; }

    public long ConnectionsAccepted { get; set; }

    public long VersionNegotiationsSent { get; set; }

    public long RetriesSent { get; set; }

    public long RefusalsSent { get; set; }

    public long StatelessResetsSent { get; set; }

    public long StatelessResetsRateLimited { get; set; }

    public long StatelessResetsReceived { get; set; }
}
