namespace AspNetQuicSteer.Steering.Coordination;

/// <summary>Settings of the coordinator host and of <see cref="GenerationCoordinator.ConnectOrHostAsync"/>.</summary>
internal sealed class GenerationCoordinatorOptions
{
    /// <summary>After activation, how long a dropped control connection of the new generation rolls back to the previous one.</summary>
    public TimeSpan Probation { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Control connections beyond this are answered with Error{Overloaded} and closed.</summary>
    public int MaxConnections { get; init; } = 256;

    /// <summary>Frames queued for one peer that does not read; beyond this the peer is closed (and counts as dead).</summary>
    public int MaxQueuedFramesPerPeer { get; init; } = 1024;

    /// <summary>How long <see cref="GenerationCoordinator.ConnectOrHostAsync"/> retries while another process is becoming the host.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The coordinator's clock (monotonic): probation and the status view's times.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Diagnostics: refusals, malformed frames, joins, state changes, crashes. The Hosting layer adapts it to ILogger.</summary>
    public Action<string>? Log { get; init; }
}
