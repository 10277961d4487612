namespace AspNetQuicSteer.Kestrel.Tests.Steering;

/// <summary>
/// The shared-port tests start two or three real server processes each; run them one class at a time so that a
/// 2-core machine is not oversubscribed by a dozen servers at once (timeouts would then measure the machine).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SharedPortProcesses
{
    public const string Name = "Shared port processes";
}
