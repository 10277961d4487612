using System.Diagnostics.Metrics;
using AspNetQuicSteer.Kestrel;
using AspNetQuicSteer.Steering.Coordination;

namespace AspNetQuicSteer.Hosting.Internal;

/// <summary>
/// The generation lifecycle's <see cref="System.Diagnostics.Metrics"/> instruments (meter <see cref="MeterName"/>):
/// state changes, health gate, rollbacks and drains, for dashboards watching a rollover.
/// </summary>
internal sealed class QuicSteeringLifecycleMetrics : IDisposable
{
    public const string MeterName = "AspNetQuicSteer.Lifecycle";

    private readonly Meter _meter;
    private readonly Counter<long> _stateChanges;
    private readonly Counter<long> _rollbacks;
    private readonly Histogram<double> _healthGateDuration;
    private readonly Histogram<double> _drainDuration;
    private readonly Counter<long> _drainConnections;
    private readonly Counter<long> _cancelledRequests;

    public QuicSteeringLifecycleMetrics(IMeterFactory meterFactory, QuicSteeringTransportFactory transport)
    {
        _meter = meterFactory.Create(MeterName);
        _stateChanges = _meter.CreateCounter<long>("quicsteer.generation.state_changes", "{change}", "This process's generation entered a state (tag: state).");
        _rollbacks = _meter.CreateCounter<long>("quicsteer.generation.rollbacks", "{rollback}", "This generation went from draining back to active: its successor failed on probation.");
        _healthGateDuration = _meter.CreateHistogram<double>("quicsteer.health_gate.duration", "s", "Time to pass (or fail) the health gate (tag: result).");
        _drainDuration = _meter.CreateHistogram<double>("quicsteer.drain.duration", "s", "From draining to stopping the host (tag: reason).");
        _drainConnections = _meter.CreateCounter<long>("quicsteer.drain.connections", "{connection}", "Connections a drain ended with (tag: outcome = drained | aborted).");
        _cancelledRequests = _meter.CreateCounter<long>("quicsteer.drain.requests_cancelled", "{request}", "HTTP/3 requests cancelled (H3_REQUEST_CANCELLED) at the drain timeout.");
        _meter.CreateObservableGauge("quicsteer.generation.active", () => ActiveGenerations(transport), "{generation}",
            "1 while this process's generation takes the port's new connections, else 0 (tag: generation).");
    }

    public void StateChanged(GenerationState state) => _stateChanges.Add(1, new KeyValuePair<string, object?>("state", state.ToString()));

    public void RolledBack() => _rollbacks.Add(1);

    public void HealthGate(TimeSpan elapsed, bool passed) =>
        _healthGateDuration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("result", passed ? "pass" : "fail"));

    public void Drained(TimeSpan elapsed, string reason, int drained, int aborted, int cancelledRequests)
    {
        _drainDuration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("reason", reason));
        if (drained > 0) _drainConnections.Add(drained, new KeyValuePair<string, object?>("outcome", "drained"));
        if (aborted > 0) _drainConnections.Add(aborted, new KeyValuePair<string, object?>("outcome", "aborted"));
        if (cancelledRequests > 0) _cancelledRequests.Add(cancelledRequests);
    }

    public void Dispose() => _meter.Dispose();

    private static IEnumerable<Measurement<int>> ActiveGenerations(QuicSteeringTransportFactory transport)
    {
        foreach (Kestrel.Internal.QuicSteeringConnectionListener listener in transport.Listeners)
        {
            if (listener.Generation is not { } member) continue;
            yield return new Measurement<int>(member.State == GenerationState.Active ? 1 : 0,
                new KeyValuePair<string, object?>("generation", (int)member.Generation.Value));
        }
    }
}
