using AspNetQuicSteer.Steering.Routing;
using static AspNetQuicSteer.Steering.Tests.Routing.RoutingFixtures;

namespace AspNetQuicSteer.Steering.Tests.Routing;

public sealed class RouteStatisticsTests
{
    [Fact]
    public void Counts_each_reason_and_sums_drops_and_routes()
    {
        SteeringTable table = Table();
        var statistics = new RouteStatistics();
        foreach (byte[] datagram in Seeds())
        {
            statistics.Record(PacketRouter.Route(datagram, table));
        }

        statistics.Record(RouteReason.Empty);
        statistics.Record(RouteReason.Empty);

        Assert.Equal(Seeds().Length + 2, statistics.Total);
        Assert.Equal(2, statistics[RouteReason.Empty]);
        Assert.Equal(1, statistics[RouteReason.VersionNegotiation]);
        Assert.Equal(3, statistics.Dropped);
        Assert.Equal(statistics.Total - 3, statistics.Routed);
        Assert.Equal(statistics.Total, Enum.GetValues<RouteReason>().Sum(r => statistics[r]));
    }

    [Fact]
    public void Threads_aggregate_with_add_and_start_over_with_reset()
    {
        var a = new RouteStatistics();
        var b = new RouteStatistics();
        a.Record(RouteReason.CibirMatch);
        b.Record(RouteReason.CibirMatch);
        b.Record(RouteReason.ShortHeaderTooShort);

        var total = new RouteStatistics();
        total.Add(a);
        total.Add(b);
        Assert.Equal(2, total[RouteReason.CibirMatch]);
        Assert.Equal(1, total.Dropped);
        Assert.Equal(3, total.Total);

        total.Reset();
        Assert.Equal(0, total.Total);
        Assert.Equal(1, a.Total);
    }

    [Fact]
    public void Reason_count_matches_the_enum_and_drops_come_first()
    {
        RouteReason[] reasons = Enum.GetValues<RouteReason>();
        Assert.Equal(RouteReasons.Count, reasons.Length);
        Assert.Equal(Enumerable.Range(0, RouteReasons.Count), reasons.Select(r => (int)r));
        Assert.Equal(
            [RouteReason.Empty, RouteReason.LongHeaderTruncated, RouteReason.VersionNegotiation, RouteReason.ShortHeaderTooShort, RouteReason.NoActiveGeneration],
            reasons.Where(RouteReasons.IsDrop));
    }
}
