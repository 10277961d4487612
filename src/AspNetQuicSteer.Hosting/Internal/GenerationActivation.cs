using System.Diagnostics;
using AspNetQuicSteer.Kestrel;
using AspNetQuicSteer.Kestrel.Internal;
using AspNetQuicSteer.Steering.Coordination;
using AspNetQuicSteer.Steering.Membership;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AspNetQuicSteer.Hosting.Internal;

/// <summary>
/// The generation's lifecycle on a shared port (ARCHITECTURE.md §7, issue 7):
/// <list type="bullet">
/// <item>it takes over new connections only once the application has started (every hosted service ran and Kestrel
/// serves) and has passed its health gate, not as soon as the UDP socket is bound (invariant 2); a failed gate fails
/// startup, and the predecessor, which never stopped serving, carries on;</item>
/// <item>once a newer generation has taken over (Draining; the QUIC listener already sent GOAWAY on every HTTP/3
/// connection), it asks its HTTP/1.1 and HTTP/2 connections to close too, and keeps asking connections that arrive
/// later; it stops the host when its connections have closed and the newer generation's probation is over (until then
/// a crash of the newer one hands connections back here, invariant 6), or at the drain timeout, when the requests
/// still running are aborted (invariant 3). A rollback (Active again) ends the drain.</item>
/// </list>
/// </summary>
internal sealed class GenerationActivation(
    QuicSteeringTransportFactory factory, IHostApplicationLifetime lifetime, IOptions<QuicSteeringOptions> options, GenerationDrainState drain,
    QuicSteeringLifecycleMetrics metrics, IServiceProvider services, ILogger<GenerationActivation> logger)
    : IHostedLifecycleService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly Dictionary<SteeringMember, GenerationState> _lastStates = [];
    private Task? _watch;
    private int _stopped;

    public async Task StartedAsync(CancellationToken cancellationToken)
    {
        QuicSteeringConnectionListener[] shared = SharedListeners();
        if (shared.Length == 0) return;
        foreach (QuicSteeringConnectionListener listener in shared) Observe(listener.Generation!);

        QuicSteeringHealthGateOptions gate = options.Value.HealthGate;
        if (gate.IsEnabled)
        {
            var clock = Stopwatch.StartNew();
            bool passed = await new GenerationHealthGate(gate, services, logger).PassAsync(shared, cancellationToken).ConfigureAwait(false);
            metrics.HealthGate(clock.Elapsed, passed);
            if (!passed)
            {
                // Startup fails; disposing the host closes the listeners, and the generation leaves the port (Exited).
                throw new InvalidOperationException(
                    $"This generation failed its health gate within {gate.Timeout.TotalSeconds:0.#} s and does not take over the port; the previous generation keeps serving.");
            }
        }

        await factory.ActivateGenerationsAsync(cancellationToken).ConfigureAwait(false);
        _watch = WatchDrainAsync(_stopping.Token);
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
        lock (_lastStates)
        {
            foreach (SteeringMember member in _lastStates.Keys) member.Changed -= OnMemberChanged;
            _lastStates.Clear();
        }

        _stopping.Dispose();
    }

    private QuicSteeringConnectionListener[] SharedListeners() => [.. factory.Listeners.Where(static l => l.Generation is not null)];

    private void Observe(SteeringMember member)
    {
        lock (_lastStates) _lastStates[member] = member.State;

        member.Changed += OnMemberChanged;
    }

    /// <summary>Counts state changes for the lifecycle metrics (the member raises Changed for table updates too).</summary>
    private void OnMemberChanged(SteeringMember member)
    {
        GenerationState state = member.State;
        lock (_lastStates)
        {
            if (_lastStates.TryGetValue(member, out GenerationState last) && last == state) return;
            _lastStates[member] = state;
            if (last == GenerationState.Draining && state == GenerationState.Active) metrics.RolledBack();
        }

        metrics.StateChanged(state);
    }

    private async Task WatchDrainAsync(CancellationToken cancellationToken)
    {
        QuicSteeringOptions settings = options.Value;
        TimeSpan probation = factory.Options.Probation;
        long? drainStarted = null;
        int connectionsAtDrain = 0;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                QuicSteeringConnectionListener[] shared = SharedListeners();
                bool draining = shared.Length > 0 && shared.All(static l => l.Generation!.State == GenerationState.Draining);
                if (!draining)
                {
                    if (drainStarted is not null)
                    {
                        drainStarted = null;
                        drain.EndDrain();
                        QuicSteeringHostingLog.RolledBack(logger);
                    }

                    continue;
                }

                int connections = 0;
                foreach (QuicSteeringConnectionListener listener in shared)
                {
                    // Handshakes that completed after draining began get their GOAWAY too (idempotent per connection).
                    listener.RequestGracefulCloseOfAll();
                    connections += await listener.CountConnectionsAsync().ConfigureAwait(false);
                }

                if (drainStarted is null)
                {
                    drainStarted = Stopwatch.GetTimestamp();
                    connectionsAtDrain = connections;
                    int tcp = drain.TcpConnections;
                    drain.BeginDrain();
                    QuicSteeringHostingLog.Draining(logger, connections, tcp, settings.DrainTimeout.TotalSeconds);
                }

                if (!settings.ExitWhenDrained) continue;
                TimeSpan elapsed = Stopwatch.GetElapsedTime(drainStarted.Value);
                bool drained = connections == 0 && drain.TcpConnections == 0 && elapsed >= probation;
                if (!drained && elapsed < settings.DrainTimeout) continue;

                int cancelled = 0, tcpAborted = 0;
                string reason = drained ? "connections closed" : "drain timeout";
                if (!drained)
                {
                    foreach (QuicSteeringConnectionListener listener in shared)
                    {
                        (_, int requests) = await listener.CancelRemainingRequestsAsync("The generation's drain timeout expired.").ConfigureAwait(false);
                        cancelled += requests;
                    }

                    tcpAborted = drain.AbortTcpConnections();
                }

                int closed = Math.Max(0, connectionsAtDrain - connections);
                QuicSteeringHostingLog.Drained(logger, reason, elapsed.TotalSeconds, connectionsAtDrain, closed, connections, cancelled, tcpAborted);
                metrics.Drained(elapsed, reason, closed, connections, cancelled);
                lifetime.StopApplication();
                return;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
