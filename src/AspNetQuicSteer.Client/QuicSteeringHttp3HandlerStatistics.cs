namespace AspNetQuicSteer.Client;

/// <summary>Counters of one <see cref="QuicSteeringHttp3Handler"/> since it was created (a snapshot).</summary>
public sealed record QuicSteeringHttp3HandlerStatistics
{
    /// <summary>Connections whose handshake completed.</summary>
    public long ConnectionsOpened { get; init; }

    /// <summary>Connections that failed during the handshake.</summary>
    public long HandshakesFailed { get; init; }

    /// <summary>GOAWAY frames received (RFC 9114 §5.2).</summary>
    public long GoAwaysReceived { get; init; }

    /// <summary>Requests sent again on another connection because the server provably did not process them.</summary>
    public long RequestsRetried { get; init; }

    /// <summary>Requests that completed with a response (any status).</summary>
    public long RequestsCompleted { get; init; }

    /// <summary>Requests that ended with an exception.</summary>
    public long RequestsFailed { get; init; }
}
