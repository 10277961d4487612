using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace AspNetQuicSteer.LoadTool;

/// <summary>
/// The values of the --group-by-header response header seen so far, numbered in order of first appearance; shared by
/// all workers, with a live count of completions per group for the progress line. A response without the header is
/// its own group (its name is null). At most
/// <see cref="MaxGroups"/> values are told apart; later new values share one last group named "(other)".
/// </summary>
internal sealed class TimelineGroups
{
    public const int MaxGroups = 256;
    public const string OverflowName = "(other)";

    private readonly ConcurrentDictionary<string, int> _ids = new(StringComparer.Ordinal);

    // Completed requests per group so far, for the live progress line (the per-worker recorders are read only at the end).
    private readonly long[] _live = new long[MaxGroups];
    private readonly List<string?> _names = [];
    private readonly Lock _lock = new();
    private int _missingId = -1;
    private int _overflowId = -1;

    /// <summary>The group of a header value (null: header absent).</summary>
    public int GetId(string? value)
    {
        if (value is null)
        {
            int missing = Volatile.Read(ref _missingId);
            if (missing >= 0)
            {
                return missing;
            }
        }
        else if (_ids.TryGetValue(value, out int id))
        {
            return id;
        }

        lock (_lock)
        {
            if (value is null)
            {
                if (_missingId < 0)
                {
                    _names.Add(null);
                    Volatile.Write(ref _missingId, _names.Count - 1);
                }

                return _missingId;
            }

            if (_ids.TryGetValue(value, out int id))
            {
                return id;
            }

            if (_names.Count >= MaxGroups - 1)
            {
                if (_overflowId < 0)
                {
                    _names.Add(OverflowName);
                    _overflowId = _names.Count - 1;
                }

                return _overflowId;
            }

            _names.Add(value);
            _ids[value] = _names.Count - 1;
            return _names.Count - 1;
        }
    }

    /// <summary>Counts a completed request of group <paramref name="id"/> for the progress line (any thread).</summary>
    public void CountLive(int id) => Interlocked.Increment(ref _live[id]);

    /// <summary>The names seen so far and the completed requests of each (a snapshot; safe during the run).</summary>
    public (IReadOnlyList<string?> Names, long[] Completed) GetLive()
    {
        IReadOnlyList<string?> names = GetNames();
        long[] completed = new long[names.Count];
        for (int i = 0; i < completed.Length; i++)
        {
            completed[i] = Interlocked.Read(ref _live[i]);
        }

        return (names, completed);
    }

    /// <summary>The names by group id.</summary>
    public IReadOnlyList<string?> GetNames()
    {
        lock (_lock)
        {
            return [.. _names];
        }
    }
}

/// <summary>
/// One worker's completions and failures per time bucket (and per group), keyed by (bucket, group); failures use group
/// -1. Bucket 0 starts when measuring starts (after the warm-up); a request counts in the bucket of its end. The
/// latency of each completed request is counted per bucket too, as a <see cref="BucketLatency"/> counter index keyed
/// by (bucket, index): sparse, so a bucket costs only the distinct latency ranges its requests fell in, and recording
/// allocates only when a new key grows the dictionary (amortised, never per request once the run is going).
/// Single-threaded; merged into a <see cref="TimelineResult"/> at the end.
/// </summary>
internal sealed class TimelineRecorder
{
    public const int FailedGroup = -1;

    private readonly long _originTimestamp;
    private readonly long _bucketTicks;
    private readonly Dictionary<(int Bucket, int Group), long> _counts = [];
    private readonly Dictionary<(int Bucket, int Index), long> _latencies = [];

    public TimelineRecorder(long originTimestamp, TimeSpan bucket)
    {
        _originTimestamp = originTimestamp;
        _bucketTicks = Math.Max(1, (long)(bucket.TotalSeconds * System.Diagnostics.Stopwatch.Frequency));
    }

    public IReadOnlyDictionary<(int Bucket, int Group), long> Counts => _counts;

    /// <summary>Completed requests per (bucket, <see cref="BucketLatency"/> counter index).</summary>
    public IReadOnlyDictionary<(int Bucket, int Index), long> Latencies => _latencies;

    /// <summary>Counts a request that ended at <paramref name="timestamp"/> (Stopwatch) in <paramref name="group"/>.</summary>
    public void Record(long timestamp, int group)
    {
        CollectionsMarshal.GetValueRefOrAddDefault(_counts, (BucketOf(timestamp), group), out _)++;
    }

    /// <summary>Counts a completed request that ended at <paramref name="timestamp"/> after <paramref name="microseconds"/>.</summary>
    public void RecordCompleted(long timestamp, int group, long microseconds)
    {
        int bucket = BucketOf(timestamp);
        CollectionsMarshal.GetValueRefOrAddDefault(_counts, (bucket, group), out _)++;
        CollectionsMarshal.GetValueRefOrAddDefault(_latencies, (bucket, BucketLatency.Index(microseconds)), out _)++;
    }

    private int BucketOf(long timestamp) => (int)Math.Min(Math.Max(0, (timestamp - _originTimestamp) / _bucketTicks), int.MaxValue);
}

/// <summary>
/// The latency counters of a timeline bucket: HdrHistogram's log-linear layout with 32 sub-buckets per power of two
/// (values below 64 µs exact, above at most 1/32 = 3.1 % wide), coarser than <see cref="LatencyHistogram"/> because a
/// run keeps one sparse set per bucket and worker. Values at or above 60 s share the top counter.
/// </summary>
internal static class BucketLatency
{
    private const int SubBucketHalfCountMagnitude = 5;
    private const int SubBucketHalfCount = 1 << SubBucketHalfCountMagnitude; // 32
    private const long SubBucketMask = (2L << SubBucketHalfCountMagnitude) - 1; // 63

    /// <summary>The counter of a value in µs (negative counts as 0, 60 s and more as the top counter).</summary>
    public static int Index(long microseconds)
    {
        long value = Math.Clamp(microseconds, 0, LatencyHistogram.HighestTrackableMicroseconds);
        int bucket = Math.Max(0, 63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(value | SubBucketMask)) - SubBucketHalfCountMagnitude);
        return (bucket << SubBucketHalfCountMagnitude) + (int)(value >> bucket);
    }

    /// <summary>The largest value in µs that maps to counter <paramref name="index"/>.</summary>
    public static long UpperBound(int index)
    {
        int bucket = index >> SubBucketHalfCountMagnitude;
        if (bucket == 0)
        {
            // Indexes 0..63 hold the values 0..63 exactly.
            return index;
        }

        // Indexes b·32 + s for s in 32..63 (so bucket = index / 32 − 1 and s = index mod 32 + 32) hold [s << b, (s + 1) << b).
        int subBucket = (index & (SubBucketHalfCount - 1)) + SubBucketHalfCount;
        bucket--;
        return (((long)subBucket + 1) << bucket) - 1;
    }

    /// <summary>
    /// The value at <paramref name="percentile"/> (0 to 100) by nearest rank over sparse (upper bound µs, count) pairs
    /// in any order: the upper bound of the counter holding the ⌈p·N/100⌉-th value; 0 when empty.
    /// </summary>
    public static long ValueAtPercentile(IEnumerable<KeyValuePair<long, long>> counts, double percentile)
    {
        ArgumentNullException.ThrowIfNull(counts);
        ArgumentOutOfRangeException.ThrowIfLessThan(percentile, 0.0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(percentile, 100.0);
        List<KeyValuePair<long, long>> sorted = [.. counts.Where(c => c.Value > 0).OrderBy(c => c.Key)];
        long total = sorted.Sum(c => c.Value);
        if (total == 0)
        {
            return 0;
        }

        long rank = Math.Max(1, (long)Math.Ceiling(percentile / 100.0 * total));
        long cumulative = 0;
        foreach (KeyValuePair<long, long> count in sorted)
        {
            cumulative += count.Value;
            if (cumulative >= rank)
            {
                return count.Key;
            }
        }

        return sorted[^1].Key;
    }
}

/// <summary>The merged timeline: dense buckets from 0 to the last one with an event.</summary>
internal sealed class TimelineResult
{
    public required TimeSpan BucketWidth { get; init; }

    /// <summary>Wall clock (Unix ms) where bucket 0 starts, so events logged elsewhere can be placed on the timeline.</summary>
    public required long StartUnixMilliseconds { get; init; }

    public string? GroupByHeader { get; init; }

    /// <summary>Group names by id (null: header absent); empty without --group-by-header.</summary>
    public required IReadOnlyList<string?> Groups { get; init; }

    /// <summary>Completed requests per bucket.</summary>
    public required IReadOnlyList<long> Completed { get; init; }

    /// <summary>Failed requests per bucket.</summary>
    public required IReadOnlyList<long> Failed { get; init; }

    /// <summary>Completed requests per bucket and group (same length as <see cref="Groups"/>); empty lists without grouping.</summary>
    public required IReadOnlyList<IReadOnlyList<long>> GroupCounts { get; init; }

    /// <summary>Completed requests per bucket by latency: (upper bound in µs of a <see cref="BucketLatency"/> counter, count), ascending.</summary>
    public required IReadOnlyList<IReadOnlyList<KeyValuePair<long, long>>> Latencies { get; init; }

    public static TimelineResult Merge(
        TimeSpan bucketWidth,
        long startUnixMilliseconds,
        string? groupByHeader,
        IReadOnlyList<string?> groups,
        IEnumerable<TimelineRecorder> recorders)
    {
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(recorders);

        Dictionary<(int Bucket, int Group), long> all = [];
        Dictionary<(int Bucket, int Index), long> latencies = [];
        int lastBucket = -1;
        foreach (TimelineRecorder recorder in recorders)
        {
            foreach (KeyValuePair<(int Bucket, int Group), long> entry in recorder.Counts)
            {
                CollectionsMarshal.GetValueRefOrAddDefault(all, entry.Key, out _) += entry.Value;
                lastBucket = Math.Max(lastBucket, entry.Key.Bucket);
            }

            foreach (KeyValuePair<(int Bucket, int Index), long> entry in recorder.Latencies)
            {
                CollectionsMarshal.GetValueRefOrAddDefault(latencies, entry.Key, out _) += entry.Value;
            }
        }

        bool grouped = groupByHeader is not null;
        long[] completed = new long[lastBucket + 1];
        long[] failed = new long[lastBucket + 1];
        long[][] perGroup = new long[lastBucket + 1][];
        for (int b = 0; b <= lastBucket; b++)
        {
            perGroup[b] = new long[grouped ? groups.Count : 0];
        }

        foreach (KeyValuePair<(int Bucket, int Group), long> entry in all)
        {
            (int bucket, int group) = entry.Key;
            if (group == TimelineRecorder.FailedGroup)
            {
                failed[bucket] += entry.Value;
                continue;
            }

            completed[bucket] += entry.Value;
            if (grouped)
            {
                perGroup[bucket][group] += entry.Value;
            }
        }

        List<KeyValuePair<long, long>>[] perBucketLatency = new List<KeyValuePair<long, long>>[lastBucket + 1];
        for (int b = 0; b <= lastBucket; b++)
        {
            perBucketLatency[b] = [];
        }

        foreach (KeyValuePair<(int Bucket, int Index), long> entry in latencies.OrderBy(e => e.Key.Index))
        {
            perBucketLatency[entry.Key.Bucket].Add(new KeyValuePair<long, long>(BucketLatency.UpperBound(entry.Key.Index), entry.Value));
        }

        return new TimelineResult
        {
            BucketWidth = bucketWidth,
            StartUnixMilliseconds = startUnixMilliseconds,
            GroupByHeader = groupByHeader,
            Groups = grouped ? groups : [],
            Completed = completed,
            Failed = failed,
            GroupCounts = perGroup,
            Latencies = perBucketLatency,
        };
    }
}
