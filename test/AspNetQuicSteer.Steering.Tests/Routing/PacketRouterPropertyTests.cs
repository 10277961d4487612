using AspNetQuicSteer.Quic.Tests.Packets;
using AspNetQuicSteer.Steering.Routing;
using CsCheck;

namespace AspNetQuicSteer.Steering.Tests.Routing;

/// <summary>
/// Properties over random port layouts and fuzz over random and mutated datagrams of every shape
/// (ARCHITECTURE invariant 7: any bytes on the port produce a decision, never an exception; invariant 1: a
/// short-header packet of live generation A never goes to another generation).
/// </summary>
public sealed class PacketRouterPropertyTests
{
    /// <summary>A random port: CID length, plain or masked field anywhere in the CID, 1 to 12 live generations, maybe no default app, up to 3 CIBIR apps.</summary>
    private static readonly Gen<SteeringTable> Tables =
        from cidLength in Gen.Int[2, 20]
        from offset in Gen.Int[0, cidLength - 1]
        from maskChoice in Gen.Int[-1, cidLength - 2]
        from generations in Gen.Byte.Array[1, 12]
        from withActive in Gen.Bool
        from ruleCount in Gen.Int[0, 3]
        from ruleTail in Gen.Byte.Array[0, 5]
        from handshakeToOwner in Gen.Bool
        select BuildTable(cidLength, offset, maskChoice, generations, withActive, ruleCount, ruleTail, handshakeToOwner);

    [Fact]
    public void A_short_header_naming_a_live_generation_goes_to_it() =>
        Gen.Select(Tables, Gen.Int, Gen.Byte, Gen.Byte.Array[20, 120], Gen.Int).Sample((table, pick, first, payload, seed) =>
        {
            LiveGeneration owner = table.LiveGenerations[(int)((uint)pick % (uint)table.LiveGenerations.Count)];
            byte[] cid = new byte[table.ConnectionIdLength];
            new Random(seed).NextBytes(cid);
            table.Field.Write(cid, owner.Generation);
            byte[] datagram = [(byte)(first & 0x7f), .. cid, .. payload];

            RouteDecision decision = PacketRouter.Route(datagram, table);

            Assert.Equal(new RouteDecision(RouteKind.ToGeneration, RouteReason.ShortHeaderToOwner, owner.Generation, owner.Target), decision);
            Assert.False(PacketRouter.IsOwnedByOtherLiveGeneration(cid, owner.Generation, table));
            Assert.All(table.LiveGenerations.Where(g => g.Generation != owner.Generation), other =>
                Assert.True(PacketRouter.IsOwnedByOtherLiveGeneration(cid, other.Generation, table)));
        }, iter: 20_000);

    [Fact]
    public void A_long_header_goes_to_a_cibir_app_or_the_active_generation_whatever_its_dcid_says() =>
        Gen.Select(Tables, Gen.Byte.Array[0, 20], Gen.Byte.Array[0, 20], Gen.Frequency((3, Gen.Const(1u)), (1, Gen.Const(0u)), (2, Gen.UInt)), Gen.Byte, Gen.Int[0, 3], Gen.Int[0, 11])
        .Sample((table, dcid, scid, version, first, cibirPick, ownerPick) =>
        {
            // Bias towards the interesting cases: a CIBIR ID in the SCID, a server-issued CID of a live generation as DCID.
            if (cibirPick < table.CibirRules.Count && scid.Length >= table.CibirRules[cibirPick].Length)
            {
                table.CibirRules[cibirPick].Id.Span.CopyTo(scid);
            }

            if (ownerPick < table.LiveGenerations.Count)
            {
                dcid = new byte[table.ConnectionIdLength];
                table.Field.Write(dcid, table.LiveGenerations[ownerPick].Generation);
            }

            byte[] datagram = RoutingFixtures.Invariant((byte)(first | 0x80), version, dcid, scid, size: 100);
            RouteDecision decision = PacketRouter.Route(datagram, table);
            int rule = table.CibirRules.ToList().FindIndex(r => r.Matches(scid));
            bool handshake = table.RouteHandshakeToOwner && version == 1 && (first & 0x30) == 0x20 && OwnerOf(dcid, table) is not null;

            if (version == 0)
            {
                Assert.Equal(RouteReason.VersionNegotiation, decision.Reason);
            }
            else if (handshake)
            {
                Assert.Equal((RouteKind.ToGeneration, OwnerOf(dcid, table)), (decision.Kind, (GenerationId?)decision.Generation));
            }
            else if (rule >= 0)
            {
                Assert.Equal((RouteKind.ToCibirApp, table.CibirRules[rule].Generation, rule), (decision.Kind, decision.Generation, decision.CibirRuleIndex));
            }
            else if (table.ActiveGeneration is { } active)
            {
                Assert.Equal((RouteKind.ToActive, active), (decision.Kind, decision.Generation));
                Assert.Equal(version == 1 ? RouteReason.LongHeaderToActive : RouteReason.UnknownVersion, decision.Reason);
            }
            else
            {
                Assert.Equal(RouteReason.NoActiveGeneration, decision.Reason);
            }

            AssertConsistent(datagram, table, decision);
        }, iter: 20_000);

    [Fact]
    public void Random_datagrams_never_throw_and_never_misroute() =>
        Gen.Select(Tables, Gen.Byte.Array[0, 300], Gen.Bool).Sample((table, datagram, forceShort) =>
        {
            if (forceShort && datagram.Length > 0)
            {
                datagram[0] &= 0x7f;
            }

            AssertConsistent(datagram, table, PacketRouter.Route(datagram, table));
        }, iter: 50_000);

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Mutated_datagrams_of_every_shape_never_throw_and_never_misroute(bool masked, bool handshakeToOwner)
    {
        SteeringTable table = RoutingFixtures.Table(masked, handshakeToOwner);
        Mutations.Of(RoutingFixtures.Seeds(masked)).Sample(datagram => AssertConsistent(datagram, table, PacketRouter.Route(datagram, table)), iter: 50_000);
    }

    [Fact]
    public void Changing_anything_but_the_dcid_keeps_a_short_header_with_its_generation() =>
        Gen.Select(Gen.Int[0, 4], Gen.Byte, Gen.Byte.Array[20, 1400], Gen.Bool).Sample((which, first, payload, masked) =>
        {
            GenerationId owner = (new[] { RoutingFixtures.Old, RoutingFixtures.Active, RoutingFixtures.AppAOld, RoutingFixtures.AppA, RoutingFixtures.AppB })[which];
            byte[] datagram = [(byte)(first & 0x7f), .. RoutingFixtures.ServerCid(owner, masked, seed: first), .. payload];
            RouteDecision decision = PacketRouter.Route(datagram, RoutingFixtures.Table(masked));
            Assert.Equal((RouteKind.ToGeneration, owner, RoutingFixtures.TargetOf(owner)), (decision.Kind, decision.Generation, decision.Target));
        }, iter: 10_000);

    /// <summary>The oracle: checks a decision against the rules without calling the router's own helpers.</summary>
    private static void AssertConsistent(byte[] datagram, SteeringTable table, RouteDecision decision)
    {
        Assert.Equal(decision.IsDrop, RouteReasons.IsDrop(decision.Reason));
        if (decision.IsDrop)
        {
            Assert.True(decision.Target.IsNone);
        }
        else
        {
            Assert.True(table.TryGetTarget(decision.Generation, out DataplaneTarget target));
            Assert.Equal(target, decision.Target);
        }

        if (decision.Kind == RouteKind.ToActive)
        {
            Assert.Equal(table.ActiveGeneration, decision.Generation);
        }

        if (datagram.Length == 0)
        {
            Assert.Equal(RouteReason.Empty, decision.Reason);
            return;
        }

        if ((datagram[0] & 0x80) != 0)
        {
            Assert.True(decision.Kind != RouteKind.ToGeneration || table.RouteHandshakeToOwner);
            return;
        }

        Assert.NotEqual(RouteKind.ToCibirApp, decision.Kind);
        if (datagram.Length < 1 + table.ConnectionIdLength + 20)
        {
            Assert.Equal(RouteReason.ShortHeaderTooShort, decision.Reason);
        }
        else if (OwnerOf(datagram.AsSpan(1, table.ConnectionIdLength).ToArray(), table) is { } owner)
        {
            // Invariant 1: a short header of live generation A goes to A, never to B != A.
            Assert.Equal((RouteKind.ToGeneration, owner), (decision.Kind, decision.Generation));
        }
        else
        {
            Assert.Equal(table.ActiveGeneration is null ? RouteKind.Drop : RouteKind.ToActive, decision.Kind);
        }
    }

    private static GenerationId? OwnerOf(byte[] dcid, SteeringTable table)
    {
        if (dcid.Length != table.ConnectionIdLength)
        {
            return null;
        }

        byte value = dcid[table.Field.Offset];
        if (table.Field.IsMasked)
        {
            value ^= dcid[table.Field.MaskOffset];
        }

        return table.LiveGenerations.Any(g => g.Generation.Value == value) ? new GenerationId(value) : null;
    }

    private static SteeringTable BuildTable(int cidLength, int offset, int maskChoice, byte[] generations, bool withActive, int ruleCount, byte[] ruleTail, bool handshakeToOwner)
    {
        int mask = maskChoice < 0 ? -1 : maskChoice >= offset ? maskChoice + 1 : maskChoice;
        GenerationId[] live = [.. generations.Distinct().Select(b => new GenerationId(b))];
        CibirRule[] rules = [.. Enumerable.Range(0, ruleCount).Select(k => new CibirRule([(byte)(0xc0 + k), .. ruleTail], 0, live[k % live.Length]))];
        return new SteeringTable(
            new SteeringField(offset, mask),
            cidLength,
            live.Select((g, i) => new LiveGeneration(g, new DataplaneTarget(i))),
            withActive ? live[0] : null,
            rules,
            handshakeToOwner);
    }
}
