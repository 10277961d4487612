using AspNetQuicSteer.Quic.Packets;

namespace AspNetQuicSteer.Steering.Routing;

/// <summary>
/// The sans-IO packet router of a shared UDP port: datagram bytes and a <see cref="SteeringTable"/> in, a
/// <see cref="RouteDecision"/> out. No I/O, no state, no allocation, no exceptions for any input (ARCHITECTURE
/// invariant 7). Every dataplane applies the same rules: the userspace forwarding path calls it directly, and
/// the kernel programs implement a subset of it.
/// <para>Rules, in order (only the first packet of a coalesced datagram is looked at, RFC 9000 §12.2 — all
/// packets of a datagram share its connection, so the first header decides):</para>
/// <list type="number">
/// <item>Empty, or too short to hold the header fields routing needs: drop.</item>
/// <item>Long header (RFC 8999 §5.1): version 0 (Version Negotiation, which only servers send) is dropped; with
/// <see cref="SteeringTable.RouteHandshakeToOwner"/>, a v1 Handshake packet goes to the live generation its DCID
/// names; a source CID carrying a CIBIR ID goes to that app's active generation (draft-banks-quic-cibir-01 §2.2,
/// for every version, since the SCID's position is invariant); everything else — Initial, 0-RTT, Handshake, Retry,
/// unknown versions — goes to the active generation (invariant 2: new connections go to the newest generation;
/// it answers unknown versions with Version Negotiation, RFC 9000 §6.1).</item>
/// <item>Short header (RFC 8999 §5.2): the DCID (the port's fixed length) names the generation through the
/// <see cref="SteeringField"/>; a live generation gets the packet, anything else goes to the active generation,
/// which must then not reset or close it if another live generation owns it
/// (<see cref="IsOwnedByOtherLiveGeneration"/>, invariant 1).</item>
/// </list>
/// </summary>
internal static class PacketRouter
{
    // RFC 9000 §17.2: bits 0x30 of a v1 long header's first byte are the packet type; not header-protected
    // (RFC 9001 §5.4.1 masks only the low 4 bits of a long header). 0x20 is Handshake (§17.2.4).
    private const byte LongPacketTypeMask = 0x30;
    private const byte HandshakePacketType = 0x20;

    public static RouteDecision Route(ReadOnlySpan<byte> datagram, SteeringTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (datagram.IsEmpty)
        {
            return RouteDecision.Drop(RouteReason.Empty);
        }

        byte first = datagram[0];
        return InvariantHeader.IsLongHeader(first) ? RouteLong(datagram, first, table) : RouteShort(datagram, table);
    }

    /// <summary>
    /// Whether <paramref name="destinationConnectionId"/> is a CID of a live generation other than
    /// <paramref name="self"/>. An endpoint asks before it answers a packet it cannot associate with a connection
    /// with a stateless reset (RFC 9000 §10.3), CONNECTION_CLOSE or Version Negotiation: when true, the packet
    /// belongs to a live connection of another generation and must be forwarded to it, never answered
    /// (ARCHITECTURE invariant 1). Works for short-header DCIDs and for the DCID of a long header; a CID whose
    /// length is not the port's is never a server-issued CID of this port.
    /// </summary>
    public static bool IsOwnedByOtherLiveGeneration(ReadOnlySpan<byte> destinationConnectionId, GenerationId self, SteeringTable table)
        => TryGetLiveOwner(destinationConnectionId, table, out GenerationId owner) && owner != self;

    /// <summary>The live generation <paramref name="destinationConnectionId"/> names, if any.</summary>
    public static bool TryGetLiveOwner(ReadOnlySpan<byte> destinationConnectionId, SteeringTable table, out GenerationId owner)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (destinationConnectionId.Length == table.ConnectionIdLength
            && table.Field.TryRead(destinationConnectionId, out owner)
            && table.IsLive(owner))
        {
            return true;
        }

        owner = default;
        return false;
    }

    private static RouteDecision RouteLong(ReadOnlySpan<byte> datagram, byte first, SteeringTable table)
    {
        if (!InvariantHeader.TryReadLongHeader(datagram, out uint version, out ReadOnlySpan<byte> dcid, out ReadOnlySpan<byte> scid))
        {
            return RouteDecision.Drop(RouteReason.LongHeaderTruncated);
        }

        if (version == QuicVersion.Negotiation)
        {
            // RFC 9000 §6.1/§17.2.1: only a server sends Version Negotiation, and an endpoint never answers one;
            // a server has no use for it (invariant 1 also forbids answering it).
            return RouteDecision.Drop(RouteReason.VersionNegotiation);
        }

        if (table.RouteHandshakeToOwner
            && version == QuicVersion.Version1
            && (first & LongPacketTypeMask) == HandshakePacketType
            && TryGetLiveOwner(dcid, table, out GenerationId owner))
        {
            // RFC 9000 §7.2/§17.2.4: a client's Handshake packets carry the server-chosen CID as DCID.
            return new RouteDecision(RouteKind.ToGeneration, RouteReason.HandshakeToOwner, owner, table.TargetOf(owner));
        }

        int rule = table.MatchCibir(scid);
        if (rule >= 0)
        {
            GenerationId app = table.CibirRules[rule].Generation;
            return new RouteDecision(RouteKind.ToCibirApp, RouteReason.CibirMatch, app, table.TargetOf(app), rule);
        }

        if (table.ActiveGeneration is not { } active)
        {
            return RouteDecision.Drop(RouteReason.NoActiveGeneration);
        }

        RouteReason reason = version == QuicVersion.Version1 ? RouteReason.LongHeaderToActive : RouteReason.UnknownVersion;
        return new RouteDecision(RouteKind.ToActive, reason, active, table.ActiveTarget);
    }

    private static RouteDecision RouteShort(ReadOnlySpan<byte> datagram, SteeringTable table)
    {
        // The fixed bit is not checked: RFC 9287 lets peers grease it, and the owner knows whether it agreed to.
        if (datagram.Length < table.ShortHeaderMinimumLength)
        {
            return RouteDecision.Drop(RouteReason.ShortHeaderTooShort);
        }

        // RFC 8999 §5.2 / RFC 9000 §17.3.1: the DCID follows the first byte; its length is the port's.
        ReadOnlySpan<byte> dcid = datagram.Slice(1, table.ConnectionIdLength);
        if (TryGetLiveOwner(dcid, table, out GenerationId owner))
        {
            return new RouteDecision(RouteKind.ToGeneration, RouteReason.ShortHeaderToOwner, owner, table.TargetOf(owner));
        }

        if (table.ActiveGeneration is not { } active)
        {
            return RouteDecision.Drop(RouteReason.NoActiveGeneration);
        }

        return new RouteDecision(RouteKind.ToActive, RouteReason.ShortHeaderUnknownGeneration, active, table.ActiveTarget);
    }
}
