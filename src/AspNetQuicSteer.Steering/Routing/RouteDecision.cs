namespace AspNetQuicSteer.Steering.Routing;

/// <summary>What the router decided for a datagram.</summary>
internal enum RouteKind : byte
{
    /// <summary>To the default app's active generation: a new connection, an unknown version, or an unknown CID.</summary>
    ToActive,

    /// <summary>To the live generation the destination connection ID names (it owns the connection).</summary>
    ToGeneration,

    /// <summary>To the active generation of the app whose CIBIR ID the source connection ID carries.</summary>
    ToCibirApp,

    /// <summary>Nobody on the port can use the datagram.</summary>
    Drop,
}

/// <summary>Why the router decided what it did; one counter each in <see cref="RouteStatistics"/>.</summary>
internal enum RouteReason : byte
{
    /// <summary>Drop: an empty datagram has no header (RFC 8999 §5).</summary>
    Empty,

    /// <summary>Drop: the datagram ends inside the long header's version or connection IDs (RFC 8999 §5.1).</summary>
    LongHeaderTruncated,

    /// <summary>Drop: version 0, a Version Negotiation packet; only servers send those (RFC 9000 §6.1, §17.2.1).</summary>
    VersionNegotiation,

    /// <summary>Drop: a short header shorter than 1 + CID + 20 bytes (RFC 9001 §5.4.2).</summary>
    ShortHeaderTooShort,

    /// <summary>Drop: the packet would go to the default app's active generation, but the port has none.</summary>
    NoActiveGeneration,

    /// <summary>ToActive: a QUIC v1 long header no CIBIR rule claims (ARCHITECTURE invariant 2).</summary>
    LongHeaderToActive,

    /// <summary>ToActive: a long header of a version other than 1; the active generation answers with Version Negotiation (RFC 9000 §6.1).</summary>
    UnknownVersion,

    /// <summary>ToCibirApp: the long header's source CID carries a CIBIR ID (draft-banks-quic-cibir-01 §2.2).</summary>
    CibirMatch,

    /// <summary>ToGeneration: a QUIC v1 Handshake packet whose server-chosen DCID names a live generation (opt-in).</summary>
    HandshakeToOwner,

    /// <summary>ToGeneration: a short header whose DCID names a live generation.</summary>
    ShortHeaderToOwner,

    /// <summary>ToActive: a short header whose DCID names no live generation (random bytes, an exited generation).</summary>
    ShortHeaderUnknownGeneration,
}

/// <summary>Facts about <see cref="RouteReason"/>.</summary>
internal static class RouteReasons
{
    /// <summary>Number of <see cref="RouteReason"/> values (they run from 0 without gaps).</summary>
    public const int Count = (int)RouteReason.ShortHeaderUnknownGeneration + 1;

    public static bool IsDrop(RouteReason reason) => reason <= RouteReason.NoActiveGeneration;
}

/// <summary>
/// The router's verdict for one datagram: where it goes (<see cref="Generation"/> and the dataplane's
/// <see cref="Target"/>) and why. Drops carry <see cref="DataplaneTarget.None"/>.
/// </summary>
internal readonly record struct RouteDecision(RouteKind Kind, RouteReason Reason, GenerationId Generation, DataplaneTarget Target, int CibirRuleIndex = -1)
{
    public bool IsDrop => Kind == RouteKind.Drop;

    public static RouteDecision Drop(RouteReason reason) => new(RouteKind.Drop, reason, default, DataplaneTarget.None);

    public override string ToString()
        => IsDrop ? $"drop ({Reason})" : $"{Kind} {Generation} via {Target} ({Reason})";
}
