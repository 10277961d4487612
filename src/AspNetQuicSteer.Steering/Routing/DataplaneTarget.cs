namespace AspNetQuicSteer.Steering.Routing;

/// <summary>
/// Where a dataplane delivers a generation's packets, in the dataplane's own terms: a socket index in the
/// reuseport group (cBPF), a key in a REUSEPORT_SOCKARRAY (eBPF), or an opaque handle of a forwarding peer.
/// The router never interprets it; it only hands back the target a <see cref="SteeringTable"/> assigned.
/// </summary>
internal readonly record struct DataplaneTarget(int Value)
{
    /// <summary>The target of a dropped packet; never assigned to a generation.</summary>
    public static DataplaneTarget None => new(-1);

    public bool IsNone => Value < 0;

    public override string ToString() => IsNone ? "none" : $"target{Value}";
}

/// <summary>A generation that is running on the port and the dataplane target that reaches it.</summary>
internal readonly record struct LiveGeneration(GenerationId Generation, DataplaneTarget Target);
