using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace AspNetQuicSteer.LoadTool;

/// <summary>
/// The values of the --group-by-header response header seen so far, numbered in order of first appearance; shared by
/// all workers. A response without the header is its own group (its name is null). At most
/// <see cref="MaxGroups"/> values are told apart; later new values share one last group named "(other)".
/// </summary>
internal sealed class TimelineGroups
{
    public const int MaxGroups = 256;
    public const string OverflowName = "(other)";

    private readonly ConcurrentDictionary<string, int> _ids = new(StringComparer.Ordinal);
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
/// -1. Bucket 0 starts when measuring starts (after the warm-up); a request counts in the bucket of its end.
/// Single-threaded; merged into a <see cref="TimelineResult"/> at the end.
/// </summary>
internal sealed class TimelineRecorder
{
    public const int FailedGroup = -1;

    private readonly long _originTimestamp;
    private readonly long _bucketTicks;
    private readonly Dictionary<(int Bucket, int Group), long> _counts = [];

    public TimelineRecorder(long originTimestamp, TimeSpan bucket)
    {
        _originTimestamp = originTimestamp;
        _bucketTicks = Math.Max(1, (long)(bucket.TotalSeconds * System.Diagnostics.Stopwatch.Frequency));
    }

    public IReadOnlyDictionary<(int Bucket, int Group), long> Counts => _counts;

    /// <summary>Counts a request that ended at <paramref name="timestamp"/> (Stopwatch) in <paramref name="group"/>.</summary>
    public void Record(long timestamp, int group)
    {
        long bucket = Math.Max(0, (timestamp - _originTimestamp) / _bucketTicks);
        CollectionsMarshal.GetValueRefOrAddDefault(_counts, ((int)Math.Min(bucket, int.MaxValue), group), out _)++;
    }
}

/// <summary>The merged timeline: dense buckets from 0 to the last one with an event.</summary>
internal sealed class TimelineResult
{
    public required TimeSpan BucketWidth { get; init; }

    public string? GroupByHeader { get; init; }

    /// <summary>Group names by id (null: header absent); empty without --group-by-header.</summary>
    public required IReadOnlyList<string?> Groups { get; init; }

    /// <summary>Completed requests per bucket.</summary>
    public required IReadOnlyList<long> Completed { get; init; }

    /// <summary>Failed requests per bucket.</summary>
    public required IReadOnlyList<long> Failed { get; init; }

    /// <summary>Completed requests per bucket and group (same length as <see cref="Groups"/>); empty lists without grouping.</summary>
    public required IReadOnlyList<IReadOnlyList<long>> GroupCounts { get; init; }

    public static TimelineResult Merge(
        TimeSpan bucketWidth,
        string? groupByHeader,
        IReadOnlyList<string?> groups,
        IEnumerable<TimelineRecorder> recorders)
    {
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(recorders);

        Dictionary<(int Bucket, int Group), long> all = [];
        int lastBucket = -1;
        foreach (TimelineRecorder recorder in recorders)
        {
            foreach (KeyValuePair<(int Bucket, int Group), long> entry in recorder.Counts)
            {
                CollectionsMarshal.GetValueRefOrAddDefault(all, entry.Key, out _) += entry.Value;
                lastBucket = Math.Max(lastBucket, entry.Key.Bucket);
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

        return new TimelineResult
        {
            BucketWidth = bucketWidth,
            GroupByHeader = groupByHeader,
            Groups = grouped ? groups : [],
            Completed = completed,
            Failed = failed,
            GroupCounts = perGroup,
        };
    }
}
