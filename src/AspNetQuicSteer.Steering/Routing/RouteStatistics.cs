using System.Runtime.CompilerServices;

namespace AspNetQuicSteer.Steering.Routing;

/// <summary>
/// Per-reason packet counters of one dataplane thread: a plain struct with the counts stored inline (no array),
/// so <see cref="Record(in RouteDecision)"/> is one increment and never allocates. Each thread owns its instance;
/// a metrics reader sums snapshots with <see cref="Add"/>. Mutable by design (counters), unlike the other routing types.
/// </summary>
internal struct RouteStatistics
{
    private Counts _counts;

    public void Record(in RouteDecision decision) => _counts[(int)decision.Reason]++;

    public void Record(RouteReason reason) => _counts[(int)reason]++;

    public readonly long this[RouteReason reason] => _counts[(int)reason];

    /// <summary>Every datagram recorded.</summary>
    public readonly long Total
    {
        get
        {
            long total = 0;
            for (int i = 0; i < RouteReasons.Count; i++)
            {
                total += _counts[i];
            }

            return total;
        }
    }

    /// <summary>Datagrams dropped, whatever the reason.</summary>
    public readonly long Dropped
    {
        get
        {
            long dropped = 0;
            for (int i = 0; i < RouteReasons.Count; i++)
            {
                dropped += RouteReasons.IsDrop((RouteReason)i) ? _counts[i] : 0;
            }

            return dropped;
        }
    }

    /// <summary>Datagrams handed to a generation.</summary>
    public readonly long Routed => Total - Dropped;

    /// <summary>Adds <paramref name="other"/>'s counts to these (aggregating threads).</summary>
    public void Add(in RouteStatistics other)
    {
        for (int i = 0; i < RouteReasons.Count; i++)
        {
            _counts[i] += other._counts[i];
        }
    }

    public void Reset() => this = default;

    [InlineArray(RouteReasons.Count)]
    private struct Counts
    {
        private long _element;
    }
}
