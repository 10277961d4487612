namespace AspNetQuicSteer.Kestrel.Tests.Hosting;

/// <summary>
/// The hosting tests run one at a time, after the parallel tests: each starts real Kestrel, UDP listeners and client
/// processes, and several measure how long a host takes to stop; on a 2-core machine parallel runs would turn those
/// bounds into noise.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SequentialHostingTests
{
    public const string Name = "Kestrel hosting";
}
