using AspNetQuicSteer.Steering.Routing;

namespace AspNetQuicSteer.Steering.Tests.Kernel;

/// <summary>
/// The managed router's decision (<see cref="PacketRouter.Route"/>) expressed as the socket index the kernel program
/// must return. Where the router drops a datagram (too short, truncated long header, version 0), the kernel program
/// hands it to the active generation's socket, whose own router then drops it: both count as "active" here.
/// </summary>
internal static class ExpectedSteering
{
    public static uint SocketIndex(
        ReadOnlySpan<byte> payload, SteeringField field, int shortHeaderCidLength, int activeSocketIndex,
        IReadOnlyDictionary<GenerationId, int> socketIndexByGeneration)
    {
        // The active socket belongs to a generation of its own that the table does not name.
        byte activeValue = 0;
        while (socketIndexByGeneration.ContainsKey(new GenerationId(activeValue))) activeValue++;
        var active = new GenerationId(activeValue);
        var live = socketIndexByGeneration.Select(e => new LiveGeneration(e.Key, new DataplaneTarget(e.Value)))
            .Append(new LiveGeneration(active, new DataplaneTarget(activeSocketIndex)));
        var table = new SteeringTable(field, shortHeaderCidLength, live, active);

        RouteDecision decision = PacketRouter.Route(payload, table);
        return decision.IsDrop ? (uint)activeSocketIndex : (uint)decision.Target.Value;
    }
}
