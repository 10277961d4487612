using System.Diagnostics;
using AspNetQuicSteer.Kestrel;
using AspNetQuicSteer.Kestrel.Internal;
using AspNetQuicSteer.Steering.Coordination;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AspNetQuicSteer.Hosting.Internal;

/// <summary>
/// The generation's lifecycle on a shared port (ARCHITECTURE.md §7):
/// <list type="bullet">
/// <item>it takes over new connections only once the application has started (every hosted service ran and Kestrel
/// serves), not as soon as the UDP socket is bound (invariant 2); a failure fails startup;</item>
/// <item>once a newer generation has taken over (Draining; the listener already sent GOAWAY on every connection), it
/// stops the host when its connections have closed and the newer generation's probation is over (until then a crash
/// of the newer one hands connections back here, invariant 6), or at the drain timeout (invariant 3). A rollback
/// (Active again) cancels the countdown.</item>
/// </list>
/// </summary>
internal sealed class GenerationActivation(
    QuicSteeringTransportFactory factory, IHostApplicationLifetime lifetime, IOptions<QuicSteeringOptions> options, ILogger<GenerationActivation> logger)
    : IHostedLifecycleService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task? _watch;
    private int _stopped;

    public async Task StartedAsync(CancellationToken cancellationToken)
    {
        await factory.ActivateGenerationsAsync(cancellationToken).ConfigureAwait(false);
        if (options.Value.ExitWhenDrained && factory.Listeners.Any(l => l.Generation is not null)) _watch = WatchDrainAsync(_stopping.Token);
    }

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        // A host can be stopped twice (StopAsync, then Dispose): once is enough.
        if (Interlocked.Exchange(ref _stopped, 1) != 0) return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_watch is not null) await _watch.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        Interlocked.Exchange(ref _stopped, 1);
        _stopping.Dispose();
    }

    private async Task WatchDrainAsync(CancellationToken cancellationToken)
    {
        TimeSpan drainTimeout = options.Value.DrainTimeout;
        TimeSpan probation = factory.Options.Probation;
        long? drainStarted = null;
        int connectionsAtDrain = 0;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                QuicSteeringConnectionListener[] shared = [.. factory.Listeners.Where(l => l.Generation is not null)];
                bool draining = shared.Length > 0 && shared.All(l => l.Generation!.State == GenerationState.Draining);
                if (!draining)
                {
                    drainStarted = null; // never drained, or rolled back to Active
                    continue;
                }

                int connections = 0;
                foreach (QuicSteeringConnectionListener listener in shared) connections += await listener.CountConnectionsAsync().ConfigureAwait(false);
                if (drainStarted is null)
                {
                    drainStarted = Stopwatch.GetTimestamp();
                    connectionsAtDrain = connections;
                    QuicSteeringHostingLog.Draining(logger, connections, drainTimeout.TotalSeconds);
                }

                TimeSpan elapsed = Stopwatch.GetElapsedTime(drainStarted.Value);
                bool drained = connections == 0 && elapsed >= probation;
                if (!drained && elapsed < drainTimeout) continue;
                QuicSteeringHostingLog.Drained(logger, connectionsAtDrain, connections, elapsed.TotalSeconds, drained ? "connections closed" : "drain timeout");
                lifetime.StopApplication();
                return;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
