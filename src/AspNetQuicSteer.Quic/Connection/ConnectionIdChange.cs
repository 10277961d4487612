using AspNetQuicSteer.Quic.TransportParameters;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Connection;

internal enum ConnectionIdChangeKind
{
    /// <summary>One of our IDs now routes to this connection (RFC 9000 §5.1).</summary>
    LocalAdded,

    /// <summary>The peer retired one of our IDs; stop routing it.</summary>
    LocalRetired,

    /// <summary>The peer gave a stateless reset token; a datagram ending in it resets this connection (§10.3.1).</summary>
    PeerResetTokenAdded,

    /// <summary>The peer's ID with this token was retired; the token no longer applies.</summary>
    PeerResetTokenRetired,
}

/// <summary>A change the endpoint applies to its routing tables for one connection.</summary>
internal readonly record struct ConnectionIdChange(ConnectionIdChangeKind Kind, ConnectionId ConnectionId, StatelessResetToken ResetToken = default);
