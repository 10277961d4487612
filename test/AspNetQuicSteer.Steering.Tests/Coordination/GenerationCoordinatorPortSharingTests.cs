using AspNetQuicSteer.Steering.Coordination;

namespace AspNetQuicSteer.Steering.Tests.Coordination;

/// <summary>
/// The coordinator's port-sharing rules (Membership README, port-sharing matrix; draft-banks-quic-cibir-01 §2.2) and
/// the socket order its status view reports (socket(7) SO_REUSEPORT: the last socket fills a closed one's slot).
/// </summary>
public sealed class GenerationCoordinatorPortSharingTests
{
    private static readonly TimeSpan Now = TimeSpan.FromSeconds(1);

    private static JoinMessage Join(string app, params byte[] cibir) => new(0, null, app, cibir, CoordinatorCapabilities.None);

    [Fact]
    public void Generations_of_one_app_share_the_port()
    {
        var state = new GenerationCoordinatorState(TimeSpan.FromSeconds(30));
        state.Join(Now, 1, Join("shop"));
        state.Join(Now, 2, Join("shop"));
        Assert.Equal(2, state.Snapshot(Now).Generations.Count(g => g.State.IsLive()));
    }

    [Fact]
    public void A_second_app_without_cibir_is_refused_naming_the_app_that_holds_the_port()
    {
        var state = new GenerationCoordinatorState(TimeSpan.FromSeconds(30));
        state.Join(Now, 1, Join("shop"));
        var error = Assert.Throws<CoordinatorRequestException>(() => state.Join(Now, 2, Join("blog")));
        Assert.Equal(CoordinatorErrorCode.PortConflict, error.ErrorCode);
        Assert.Contains("'shop'", error.Message, StringComparison.Ordinal);
        Assert.Contains("CIBIR", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new byte[] { 0xA1 }, new byte[] { 0xB2 }, true)]        // disjoint IDs
    [InlineData(new byte[] { 0xA1, 0x01 }, new byte[] { 0xA1, 0x02 }, true)] // differ in a byte both cover
    [InlineData(new byte[] { 0xA1 }, new byte[] { 0xA1, 0x02 }, false)] // one prefixes the other: ambiguous
    [InlineData(new byte[] { }, new byte[] { 0xA1 }, true)]             // the default app plus one CIBIR app
    public void Apps_with_cibir_ids_share_the_port_when_no_id_prefixes_another(byte[] first, byte[] second, bool shares)
    {
        var state = new GenerationCoordinatorState(TimeSpan.FromSeconds(30));
        state.Join(Now, 1, Join("shop", first));
        if (shares)
        {
            state.Join(Now, 2, Join("blog", second));
        }
        else
        {
            Assert.Equal(CoordinatorErrorCode.PortConflict, Assert.Throws<CoordinatorRequestException>(() => state.Join(Now, 2, Join("blog", second))).ErrorCode);
        }
    }

    [Fact]
    public void One_app_keeps_one_cibir_id()
    {
        var state = new GenerationCoordinatorState(TimeSpan.FromSeconds(30));
        state.Join(Now, 1, Join("shop", 0xA1));
        Assert.Equal(CoordinatorErrorCode.PortConflict, Assert.Throws<CoordinatorRequestException>(() => state.Join(Now, 2, Join("shop", 0xA2))).ErrorCode);
    }

    [Fact]
    public void An_exited_app_no_longer_holds_the_port()
    {
        var state = new GenerationCoordinatorState(TimeSpan.FromSeconds(30));
        GenerationId shop = state.Join(Now, 1, Join("shop")).Generation;
        state.Exited(Now, shop, default, "done");
        state.Join(Now, 2, Join("blog"));
    }

    [Fact]
    public void Status_lists_live_generations_in_socket_order_with_the_last_filling_a_leavers_slot()
    {
        var state = new GenerationCoordinatorState(TimeSpan.FromSeconds(30));
        GenerationId a = state.Join(Now, 1, Join("shop")).Generation;
        GenerationId b = state.Join(Now, 2, Join("shop")).Generation;
        GenerationId c = state.Join(Now, 3, Join("shop")).Generation;
        GenerationId d = state.Join(Now, 4, Join("shop")).Generation;
        Assert.Equal([a, b, c, d], state.Snapshot(Now).Generations.Select(g => g.Generation));

        state.Exited(Now, b, default, "done"); // slot 1 freed: d (the last) moves into it
        Assert.Equal([a, d, c, b], state.Snapshot(Now).Generations.Select(g => g.Generation));
        state.PeerLost(Now, a); // slot 0: c moves in
        Assert.Equal([c, d], state.Snapshot(Now).Generations.Where(g => g.State.IsLive()).Select(g => g.Generation));
    }
}
