namespace AspNetQuicSteer.Kestrel.Tests.Interop;

/// <summary>
/// The Kestrel interop tests run one at a time, after the parallel tests: each runs a server, a real peer and
/// sometimes a browser on a 2-core machine, and load from a neighbour would turn timeouts into noise.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class KestrelInteropGroup
{
    public const string Name = "Kestrel interop";
}
