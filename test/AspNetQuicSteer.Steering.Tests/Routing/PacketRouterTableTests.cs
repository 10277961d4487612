using AspNetQuicSteer.Steering.Routing;
using static AspNetQuicSteer.Steering.Tests.Routing.RoutingFixtures;

namespace AspNetQuicSteer.Steering.Tests.Routing;

/// <summary>
/// One row per routing rule, each naming the RFC, draft or ARCHITECTURE invariant it implements. The port is
/// <see cref="RoutingFixtures"/>: default app gen1 (draining) and gen2 (active), CIBIR app A (gen9, gen10 active),
/// CIBIR app B (gen20). Every row runs with the plain and with the XOR-masked generation field.
/// </summary>
public sealed class PacketRouterTableTests
{
    private sealed record Row(
        string Citation,
        Func<bool, byte[]> Datagram,
        RouteKind Kind,
        RouteReason Reason,
        GenerationId? Generation = null,
        bool HandshakeToOwner = false,
        bool WithActive = true,
        int CibirRule = -1);

    private static readonly Dictionary<string, Row> Rows = new()
    {
        // Rule 1: nothing to route.
        ["empty datagram"] = new("RFC 8999 §5: every QUIC packet has at least a first byte",
            _ => [], RouteKind.Drop, RouteReason.Empty),
        ["long header cut inside the version"] = new("RFC 8999 §5.1: version follows the first byte",
            _ => [0xc3, 0, 0], RouteKind.Drop, RouteReason.LongHeaderTruncated),
        ["long header cut inside the DCID"] = new("RFC 8999 §5.1: DCID Length, then DCID",
            _ => Invariant(0xc3, 1, ClientCid(), ClientCid())[..10], RouteKind.Drop, RouteReason.LongHeaderTruncated),
        ["long header without SCID length"] = new("RFC 8999 §5.1: SCID Length follows the DCID",
            _ => Invariant(0xc3, 1, ClientCid(), [], size: 0)[..14], RouteKind.Drop, RouteReason.LongHeaderTruncated),
        ["long header cut inside the SCID"] = new("RFC 8999 §5.1: SCID Length, then SCID",
            _ => Invariant(0xc3, 1, ClientCid(), ClientCid(AppAId), size: 0)[..18], RouteKind.Drop, RouteReason.LongHeaderTruncated),
        ["short header shorter than a protected packet"] = new("RFC 9001 §5.4.2: 1 + CID + 4 + 16-byte sample",
            m => Short(ServerCid(Old, m), payload: 18), RouteKind.Drop, RouteReason.ShortHeaderTooShort),
        ["short header cut inside the DCID"] = new("RFC 9000 §17.3.1: DCID of the port's fixed length follows the first byte",
            m => ServerCid(Old, m)[..5], RouteKind.Drop, RouteReason.ShortHeaderTooShort),

        // Rule 2: long headers.
        ["version negotiation received"] = new("RFC 9000 §6.1/§17.2.1: only servers send Version Negotiation; never answered (invariant 1)",
            m => VersionNegotiation(ClientCid(), ServerCid(Active, m)), RouteKind.Drop, RouteReason.VersionNegotiation),
        ["v1 Initial of a new connection"] = new("ARCHITECTURE invariant 2: new connections go to the newest generation",
            _ => Initial(ClientCid(), ClientCid(seed: 3)), RouteKind.ToActive, RouteReason.LongHeaderToActive, Active),
        ["v1 Initial whose random DCID happens to name a draining generation"] = new("RFC 9000 §7.2: a first Initial's DCID is client-chosen, so it routes nothing (invariant 2)",
            m => Initial(ServerCid(Old, m), ClientCid(seed: 3)), RouteKind.ToActive, RouteReason.LongHeaderToActive, Active),
        ["v1 Initial with empty SCID and 20-byte DCID"] = new("RFC 9000 §17.2: CIDs are 0 to 20 bytes",
            _ => Initial(ClientCid(length: 20), []), RouteKind.ToActive, RouteReason.LongHeaderToActive, Active),
        ["v1 0-RTT"] = new("RFC 9000 §17.2.3: 0-RTT uses the client-chosen DCID of the first Initial",
            m => ZeroRtt(ServerCid(Old, m), ClientCid()), RouteKind.ToActive, RouteReason.LongHeaderToActive, Active),
        ["v1 Handshake of a draining generation, default table"] = new("Issue 6 rule 2: every long header not claimed by CIBIR goes to the active generation (kernel agreement)",
            m => Handshake(ServerCid(Old, m), ClientCid()), RouteKind.ToActive, RouteReason.LongHeaderToActive, Active),
        ["v1 Handshake of a draining generation, RouteHandshakeToOwner"] = new("RFC 9000 §7.2/§17.2.4: a client's Handshake DCID is server-chosen",
            m => Handshake(ServerCid(Old, m), ClientCid()), RouteKind.ToGeneration, RouteReason.HandshakeToOwner, Old, HandshakeToOwner: true),
        ["v1 Handshake of an exited generation, RouteHandshakeToOwner"] = new("ARCHITECTURE invariant 2: unknown owner falls back to the active generation",
            m => Handshake(ServerCid(Exited, m), ClientCid()), RouteKind.ToActive, RouteReason.LongHeaderToActive, Active, HandshakeToOwner: true),
        ["v1 Initial to a draining generation's CID, RouteHandshakeToOwner"] = new("RFC 9000 §7.2: only Handshake DCIDs are known to be server-chosen",
            m => Initial(ServerCid(Old, m), ClientCid()), RouteKind.ToActive, RouteReason.LongHeaderToActive, Active, HandshakeToOwner: true),
        ["v1 Retry"] = new("RFC 9000 §17.2.5: servers send Retry; a stray one goes to the active generation, which discards it",
            m => Invariant(RetryFirstByte, 1, ClientCid(), ServerCid(Old, m), size: 60), RouteKind.ToActive, RouteReason.LongHeaderToActive, Active),
        ["v1 Initial with app A's CIBIR ID in the SCID"] = new("draft-banks-quic-cibir-01 §2.2: long headers route by the well-known ID in the client's source CID",
            _ => Initial(ClientCid(), ClientCid(AppAId)), RouteKind.ToCibirApp, RouteReason.CibirMatch, AppA, CibirRule: 0),
        ["v1 Initial with app B's CIBIR ID in the SCID"] = new("draft-banks-quic-cibir-01 §2.2",
            _ => Initial(ClientCid(), ClientCid(AppBId)), RouteKind.ToCibirApp, RouteReason.CibirMatch, AppB, CibirRule: 1),
        ["v1 Handshake with app A's ID routes to app A's active generation"] = new("draft-banks-quic-cibir-01 §2.2: all long headers, not just Initial",
            m => Handshake(ServerCid(AppAOld, m), ClientCid(AppAId)), RouteKind.ToCibirApp, RouteReason.CibirMatch, AppA, CibirRule: 0),
        ["v1 Handshake with app A's ID, RouteHandshakeToOwner"] = new("RFC 9000 §17.2.4: the owner of the server-chosen DCID comes first",
            m => Handshake(ServerCid(AppAOld, m), ClientCid(AppAId)), RouteKind.ToGeneration, RouteReason.HandshakeToOwner, AppAOld, HandshakeToOwner: true),
        ["CIBIR ID in the DCID only"] = new("draft-banks-quic-cibir-01 §2.2: the DCID is not used for long-header routing",
            _ => Initial(ClientCid(AppAId), ClientCid()), RouteKind.ToActive, RouteReason.LongHeaderToActive, Active),
        ["CIBIR ID at the wrong offset"] = new("draft-banks-quic-cibir-01 §2.1: the ID sits at the agreed offset",
            _ => Initial(ClientCid(), [0x00, .. AppAId, 1, 2, 3, 4, 5]), RouteKind.ToActive, RouteReason.LongHeaderToActive, Active),
        ["SCID shorter than the CIBIR ID"] = new("draft-banks-quic-cibir-01 §2.1: length and offset must fit the source CID",
            _ => Initial(ClientCid(), [0xc1]), RouteKind.ToActive, RouteReason.LongHeaderToActive, Active),
        ["QUIC v2 Initial"] = new("RFC 9000 §6.1: the active generation answers versions it does not speak with Version Negotiation",
            _ => Invariant(0xc0, 0x6b3343cf, ClientCid(), ClientCid()), RouteKind.ToActive, RouteReason.UnknownVersion, Active),
        ["reserved version 0x?a?a?a?a"] = new("RFC 9000 §15: greased versions elicit Version Negotiation",
            _ => Invariant(0xc0, 0x1a2a3a4a, ClientCid(), ClientCid()), RouteKind.ToActive, RouteReason.UnknownVersion, Active),
        ["unknown version with 255-byte connection IDs"] = new("RFC 8999 §5.1: CIDs of other versions may be up to 255 bytes",
            _ => Invariant(0x80, 0xff00001d, new byte[255], new byte[255], size: 600), RouteKind.ToActive, RouteReason.UnknownVersion, Active),
        ["unknown version carrying app A's CIBIR ID"] = new("RFC 8999 §5.1 + draft §2.2: the SCID is version-independent, so app A answers its own Version Negotiation",
            _ => Invariant(0xc0, 0x6b3343cf, ClientCid(), ClientCid(AppAId)), RouteKind.ToCibirApp, RouteReason.CibirMatch, AppA, CibirRule: 0),
        ["long header with cleared fixed bit"] = new("RFC 9287 §3: the QUIC bit may be greased; the router does not judge it",
            _ => WithFirstByte(Initial(ClientCid(), ClientCid(AppBId)), InitialFirstByte & 0xbf), RouteKind.ToCibirApp, RouteReason.CibirMatch, AppB, CibirRule: 1),
        ["coalesced Initial + Handshake + 1-RTT"] = new("RFC 9000 §12.2: only the first packet's header decides",
            m => [.. Initial(ClientCid(), ClientCid(), size: 600), .. Handshake(ServerCid(Old, m), ClientCid()), .. Short(ServerCid(Old, m))],
            RouteKind.ToActive, RouteReason.LongHeaderToActive, Active),
        ["long header, port without a default app"] = new("Port-sharing matrix: a CIBIR-only port has no taker for unclaimed long headers",
            _ => Initial(ClientCid(), ClientCid()), RouteKind.Drop, RouteReason.NoActiveGeneration, WithActive: false),
        ["CIBIR long header, port without a default app"] = new("draft-banks-quic-cibir-01 §2.2",
            _ => Initial(ClientCid(), ClientCid(AppAId)), RouteKind.ToCibirApp, RouteReason.CibirMatch, AppA, WithActive: false, CibirRule: 0),

        // Rule 3: short headers.
        ["short header of the draining generation"] = new("ARCHITECTURE §5 / RFC 9000 §17.3.1: the server-chosen DCID names its owner",
            m => Short(ServerCid(Old, m)), RouteKind.ToGeneration, RouteReason.ShortHeaderToOwner, Old),
        ["short header of the active generation"] = new("ARCHITECTURE §5",
            m => Short(ServerCid(Active, m)), RouteKind.ToGeneration, RouteReason.ShortHeaderToOwner, Active),
        ["short header of CIBIR app A's draining generation"] = new("draft-banks-quic-cibir-01 §2.2: short headers use server-chosen CIDs, interpreted by the server",
            m => Short(ServerCid(AppAOld, m)), RouteKind.ToGeneration, RouteReason.ShortHeaderToOwner, AppAOld),
        ["short header at the minimum length"] = new("RFC 9001 §5.4.2: 1 + CID + 20 bytes can be unprotected",
            m => Short(ServerCid(Old, m), payload: 19), RouteKind.ToGeneration, RouteReason.ShortHeaderToOwner, Old),
        ["short header with greased fixed bit"] = new("RFC 9287 §3",
            m => Short(ServerCid(Old, m), first: 0x00), RouteKind.ToGeneration, RouteReason.ShortHeaderToOwner, Old),
        ["short header of an exited generation"] = new("ARCHITECTURE invariant 1: the active generation gets unknown CIDs and must check ownership before a stateless reset",
            m => Short(ServerCid(Exited, m)), RouteKind.ToActive, RouteReason.ShortHeaderUnknownGeneration, Active),
        ["short header, port without a default app, unknown CID"] = new("Port-sharing matrix: a CIBIR-only port drops what nobody owns",
            m => Short(ServerCid(Exited, m)), RouteKind.Drop, RouteReason.NoActiveGeneration, WithActive: false),
        ["short header, port without a default app, known CID"] = new("draft-banks-quic-cibir-01 §2.2",
            m => Short(ServerCid(AppB, m)), RouteKind.ToGeneration, RouteReason.ShortHeaderToOwner, AppB, WithActive: false),
    };

    public static TheoryData<string, bool> Cases()
    {
        var data = new TheoryData<string, bool>();
        foreach (string name in Rows.Keys)
        {
            data.Add(name, false);
            data.Add(name, true);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Routes_as_the_rule_says(string rule, bool masked)
    {
        Row row = Rows[rule];
        Assert.False(string.IsNullOrWhiteSpace(row.Citation));
        SteeringTable table = Table(masked, row.HandshakeToOwner, row.WithActive);

        RouteDecision decision = PacketRouter.Route(row.Datagram(masked), table);

        Assert.Equal(row.Kind, decision.Kind);
        Assert.Equal(row.Reason, decision.Reason);
        Assert.Equal(row.CibirRule, decision.CibirRuleIndex);
        if (row.Generation is { } generation)
        {
            Assert.Equal(generation, decision.Generation);
            Assert.Equal(TargetOf(generation), decision.Target);
        }
        else
        {
            Assert.True(decision.IsDrop);
            Assert.True(decision.Target.IsNone);
        }

        Assert.Equal(decision.IsDrop, RouteReasons.IsDrop(decision.Reason));
    }

    [Fact]
    public void Every_reason_has_a_row() =>
        Assert.Equal(
            Enum.GetValues<RouteReason>().Order(),
            Rows.Values.Select(r => r.Reason).Distinct().Order());

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Ownership_check_before_a_stateless_reset(bool masked)
    {
        // ARCHITECTURE invariant 1 / RFC 9000 §10.3: the active generation may reset only CIDs no other live generation owns.
        SteeringTable table = Table(masked);
        Assert.True(PacketRouter.IsOwnedByOtherLiveGeneration(ServerCid(Old, masked), Active, table));
        Assert.True(PacketRouter.IsOwnedByOtherLiveGeneration(ServerCid(AppA, masked), Active, table));
        Assert.False(PacketRouter.IsOwnedByOtherLiveGeneration(ServerCid(Active, masked), Active, table));
        Assert.False(PacketRouter.IsOwnedByOtherLiveGeneration(ServerCid(Exited, masked), Active, table));

        // A CID of another length was never issued on this port (RFC 9000 §17.3.1 fixed length), whatever its bytes say.
        Assert.False(PacketRouter.IsOwnedByOtherLiveGeneration([.. ServerCid(Old, masked), 0], Active, table));
        Assert.False(PacketRouter.IsOwnedByOtherLiveGeneration(ServerCid(Old, masked).AsSpan(..4), Active, table));
        Assert.False(PacketRouter.IsOwnedByOtherLiveGeneration([], Active, table));

        // Once gen1 has exited, its CIDs are fair game for a reset.
        Assert.False(PacketRouter.IsOwnedByOtherLiveGeneration(ServerCid(Old, masked), Active, table.WithoutGeneration(Old)));
    }

    [Fact]
    public void Activation_moves_new_connections_and_leaves_existing_ones()
    {
        // ARCHITECTURE §7: gen2 activates while gen1 still serves its connections; rollback gives new connections back.
        SteeringTable before = Table().WithActive(Old);
        SteeringTable after = before.WithActive(Active);
        byte[] initial = Initial(ClientCid(), ClientCid());
        byte[] existing = Short(ServerCid(Old));

        Assert.Equal(Old, PacketRouter.Route(initial, before).Generation);
        Assert.Equal(Active, PacketRouter.Route(initial, after).Generation);
        Assert.Equal(Old, PacketRouter.Route(existing, before).Generation);
        Assert.Equal(Old, PacketRouter.Route(existing, after).Generation);
        Assert.Equal(Old, PacketRouter.Route(initial, after.WithActive(Old)).Generation);

        SteeringTable exited = after.WithoutGeneration(Old);
        RouteDecision orphan = PacketRouter.Route(existing, exited);
        Assert.Equal((RouteKind.ToActive, RouteReason.ShortHeaderUnknownGeneration, Active), (orphan.Kind, orphan.Reason, orphan.Generation));
    }
}
