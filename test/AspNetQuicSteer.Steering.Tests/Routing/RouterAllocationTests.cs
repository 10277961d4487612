using AspNetQuicSteer.Steering.Routing;
using static AspNetQuicSteer.Steering.Tests.Routing.RoutingFixtures;

namespace AspNetQuicSteer.Steering.Tests.Routing;

/// <summary>ARCHITECTURE §3: the per-packet path allocates nothing — routing, the ownership check and the counters.</summary>
public sealed class RouterAllocationTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Ten_thousand_routes_allocate_nothing(bool masked)
    {
        SteeringTable table = Table(masked, handshakeToOwner: masked);
        byte[][] datagrams = [.. Seeds(masked), [], [0x80, 0, 0], Short(ServerCid(Old, masked), payload: 3)];
        var statistics = new RouteStatistics();
        long checksum = 0;

        void Run(int count)
        {
            for (int i = 0; i < count; i++)
            {
                byte[] datagram = datagrams[i % datagrams.Length];
                RouteDecision decision = PacketRouter.Route(datagram, table);
                statistics.Record(decision);
                checksum += decision.Target.Value + decision.Generation.Value;
                if (decision.Reason == RouteReason.ShortHeaderUnknownGeneration
                    && PacketRouter.IsOwnedByOtherLiveGeneration(datagram.AsSpan(1, CidLength), decision.Generation, table))
                {
                    checksum = -1_000_000_000; // unreachable: the active generation only gets CIDs nobody owns
                }
            }
        }

        Run(2_000); // JIT and tiering outside the measurement

        // No xunit asserts inside the measured loop: they allocate.
        long before = GC.GetAllocatedBytesForCurrentThread();
        Run(10_000);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(12_000, statistics.Total);
        Assert.True(checksum > 0);
    }
}
