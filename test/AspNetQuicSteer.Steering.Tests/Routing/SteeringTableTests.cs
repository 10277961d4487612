using AspNetQuicSteer.Steering.Routing;
using static AspNetQuicSteer.Steering.Tests.Routing.RoutingFixtures;

namespace AspNetQuicSteer.Steering.Tests.Routing;

/// <summary>A snapshot that could misroute is refused when it is built, with a message that says why.</summary>
public sealed class SteeringTableTests
{
    private static readonly LiveGeneration[] TwoGenerations = [new(Old, new(0)), new(Active, new(1))];

    [Fact]
    public void Exposes_the_snapshot()
    {
        SteeringTable table = Table(masked: true, handshakeToOwner: true);
        Assert.Equal(MaskedField, table.Field);
        Assert.Equal(CidLength, table.ConnectionIdLength);
        Assert.Equal(1 + CidLength + 20, table.ShortHeaderMinimumLength);
        Assert.Equal(Active, table.ActiveGeneration);
        Assert.Equal(TargetOf(Active), table.ActiveTarget);
        Assert.True(table.RouteHandshakeToOwner);
        Assert.Equal([1, 2, 9, 10, 20], table.LiveGenerations.Select(g => (int)g.Generation.Value));
        Assert.Equal(2, table.CibirRules.Count);
        Assert.True(table.TryGetTarget(AppA, out DataplaneTarget target));
        Assert.Equal(TargetOf(AppA), target);
        Assert.False(table.TryGetTarget(Exited, out target));
        Assert.True(target.IsNone);
        Assert.False(table.IsLive(Exited));
    }

    [Fact]
    public void With_helpers_build_new_snapshots_and_leave_the_old_one_alone()
    {
        SteeringTable table = new(PlainField, CidLength, TwoGenerations, Old);
        SteeringTable next = table.WithGeneration(Exited, new(7)).WithActive(Exited);
        Assert.Equal(Old, table.ActiveGeneration);
        Assert.False(table.IsLive(Exited));
        Assert.Equal(Exited, next.ActiveGeneration);
        Assert.Equal(new DataplaneTarget(7), next.ActiveTarget);

        SteeringTable moved = next.WithGeneration(Exited, new(8));
        Assert.Equal(new DataplaneTarget(8), moved.ActiveTarget);
        Assert.Equal(3, moved.LiveGenerations.Count);

        SteeringTable withRule = moved.WithCibirRules([new CibirRule(AppAId, 2, Old)]);
        Assert.Single(withRule.CibirRules);
        Assert.Empty(moved.CibirRules);
    }

    [Fact]
    public void Refuses_an_active_generation_that_is_not_live()
    {
        var error = Assert.Throws<ArgumentException>(() => new SteeringTable(PlainField, CidLength, TwoGenerations, Exited));
        Assert.Contains("not live", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new SteeringTable(PlainField, CidLength, TwoGenerations, Active).WithoutGeneration(Active));
    }

    [Fact]
    public void Allows_a_port_without_a_default_app() =>
        Assert.Null(new SteeringTable(PlainField, CidLength, TwoGenerations, activeGeneration: null).ActiveGeneration);

    [Theory]
    [InlineData(0)]
    [InlineData(21)]
    [InlineData(-1)]
    public void Refuses_connection_id_lengths_outside_1_to_20(int length) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new SteeringTable(new SteeringField(0), length, TwoGenerations, Old));

    [Theory]
    [InlineData(8, -1)]
    [InlineData(-1, -1)]
    [InlineData(1, 8)]
    [InlineData(3, 3)]
    public void Refuses_a_steering_field_outside_the_connection_id(int offset, int maskOffset) =>
        Assert.Throws<ArgumentException>(() => new SteeringTable(new SteeringField(offset, maskOffset), CidLength, TwoGenerations, Old));

    [Fact]
    public void Refuses_duplicate_generations_and_missing_targets()
    {
        Assert.Throws<ArgumentException>(() => new SteeringTable(PlainField, CidLength, [new(Old, new(0)), new(Old, new(1))], Old));
        Assert.Throws<ArgumentException>(() => new SteeringTable(PlainField, CidLength, [new(Old, DataplaneTarget.None)], Old));
    }

    [Fact]
    public void Refuses_a_cibir_rule_for_a_generation_that_is_not_live() =>
        Assert.Throws<ArgumentException>(() => new SteeringTable(PlainField, CidLength, TwoGenerations, Old, [new CibirRule(AppAId, 0, AppA)]));

    [Theory]
    [InlineData("c1b1", 0, "c1b1", 0)]       // the same ID twice
    [InlineData("c1b1", 0, "c1", 0)]         // a prefix of the other
    [InlineData("c1b1", 0, "b1ee", 1)]       // overlapping, agreeing where they overlap
    [InlineData("c1b1", 0, "aa", 4)]         // disjoint positions: one SCID can carry both
    public void Refuses_cibir_rules_that_one_source_cid_could_match_both(string first, int firstOffset, string second, int secondOffset)
    {
        CibirRule[] rules = [new(Convert.FromHexString(first), firstOffset, Old), new(Convert.FromHexString(second), secondOffset, Active)];
        var error = Assert.Throws<ArgumentException>(() => new SteeringTable(PlainField, CidLength, TwoGenerations, Old, rules));
        Assert.Contains("both match", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("c1b1", 0, "c1b2", 0)]
    [InlineData("c1b1", 0, "b2", 1)]
    [InlineData("00112233", 2, "0044", 3)]
    public void Accepts_cibir_rules_that_differ_in_a_byte_both_cover(string first, int firstOffset, string second, int secondOffset)
    {
        CibirRule[] rules = [new(Convert.FromHexString(first), firstOffset, Old), new(Convert.FromHexString(second), secondOffset, Active)];
        Assert.Equal(2, new SteeringTable(PlainField, CidLength, TwoGenerations, Old, rules).CibirRules.Count);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, -1)]
    [InlineData(1, 20)]
    [InlineData(21, 0)]
    [InlineData(4, 17)]
    public void Refuses_cibir_ids_that_do_not_fit_a_v1_connection_id(int length, int offset) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new CibirRule(new byte[length], offset, Old));

    [Fact]
    public void A_cibir_rule_matches_its_id_at_its_offset_and_reports_its_encoding()
    {
        var rule = new CibirRule([0xaa, 0xbb, 0xcc], 2, Old);
        Assert.Equal(new CibirEncoding(3, 2), rule.Encoding);
        Assert.True(rule.Matches([0, 0, 0xaa, 0xbb, 0xcc]));
        Assert.True(rule.Matches([9, 9, 0xaa, 0xbb, 0xcc, 9, 9, 9]));
        Assert.False(rule.Matches([0, 0xaa, 0xbb, 0xcc, 0]));
        Assert.False(rule.Matches([0, 0, 0xaa, 0xbb]));
        Assert.False(rule.Matches([]));
        Assert.Equal(rule, new CibirRule([0xaa, 0xbb, 0xcc], 2, Old));
        Assert.Equal("cibir aabbcc@2 -> gen1", rule.ToString());
    }
}
