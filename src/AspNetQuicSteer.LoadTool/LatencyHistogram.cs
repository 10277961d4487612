using System.Numerics;

namespace AspNetQuicSteer.LoadTool;

/// <summary>
/// A log-linear latency histogram in microseconds (HdrHistogram's layout with 2 significant digits): values below 256 µs
/// are counted exactly; above, each power-of-two range is split into 128 equal sub-buckets, so a bucket is at most 1/128
/// (0.78 %) of its values wide. Tracks 0 µs to 60 s in 2,533 counters (20 KB); larger values are counted in the top
/// bucket (the exact maximum is kept separately). Recording never allocates; one instance per worker (not thread-safe),
/// merged at the end.
/// </summary>
internal sealed class LatencyHistogram
{
    /// <summary>Values at or above this (60 s) share the top bucket.</summary>
    public const long HighestTrackableMicroseconds = 60_000_000;

    private const int SubBucketHalfCountMagnitude = 7;
    private const int SubBucketHalfCount = 1 << SubBucketHalfCountMagnitude; // 128
    private const long SubBucketMask = (2L << SubBucketHalfCountMagnitude) - 1; // 255

    private static readonly int s_length = CountsIndex(HighestTrackableMicroseconds) + 1;

    private readonly long[] _counts = new long[s_length];

    /// <summary>Number of recorded values.</summary>
    public long Count { get; private set; }

    /// <summary>Sum of the recorded values (exact, µs).</summary>
    public long Sum { get; private set; }

    /// <summary>Smallest recorded value (exact, µs); 0 when empty.</summary>
    public long Min => Count == 0 ? 0 : _min;

    /// <summary>Largest recorded value (exact, µs, also above 60 s); 0 when empty.</summary>
    public long Max { get; private set; }

    /// <summary>Arithmetic mean (exact, µs); 0 when empty.</summary>
    public double Mean => Count == 0 ? 0 : (double)Sum / Count;

    private long _min = long.MaxValue;

    /// <summary>Records one value in µs (negative values count as 0).</summary>
    public void Record(long microseconds)
    {
        if (microseconds < 0)
        {
            microseconds = 0;
        }

        _counts[CountsIndex(Math.Min(microseconds, HighestTrackableMicroseconds))]++;
        Count++;
        Sum += microseconds;
        if (microseconds > Max)
        {
            Max = microseconds;
        }

        if (microseconds < _min)
        {
            _min = microseconds;
        }
    }

    /// <summary>Records a duration, truncated to whole µs.</summary>
    public void Record(TimeSpan elapsed) => Record(elapsed.Ticks / TimeSpan.TicksPerMicrosecond);

    /// <summary>Adds every value of <paramref name="other"/> to this histogram.</summary>
    public void Add(LatencyHistogram other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Count == 0)
        {
            return;
        }

        for (int i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }

        Count += other.Count;
        Sum += other.Sum;
        Max = Math.Max(Max, other.Max);
        _min = Math.Min(_min, other._min);
    }

    /// <summary>
    /// The value at <paramref name="percentile"/> (0 to 100) by nearest rank: the smallest recorded value v with at
    /// least ⌈p·N/100⌉ values ≤ v, reported as the upper end of its bucket (never above <see cref="Max"/> nor below
    /// <see cref="Min"/>), so it is at most 0.78 % above the exact value. The last rank, and any rank in the top
    /// counter (59.77 s and more, where values above the range are counted), is the exact <see cref="Max"/>. 0 when empty.
    /// </summary>
    public long ValueAtPercentile(double percentile)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(percentile, 0.0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(percentile, 100.0);
        if (Count == 0)
        {
            return 0;
        }

        long rank = Math.Max(1, (long)Math.Ceiling(percentile / 100.0 * Count));
        if (rank >= Count)
        {
            return Max;
        }

        long cumulative = 0;
        for (int i = 0; i < _counts.Length - 1; i++)
        {
            cumulative += _counts[i];
            if (cumulative >= rank)
            {
                return Math.Clamp(HighestEquivalentValue(i), Min, Max);
            }
        }

        return Max;
    }

    /// <summary>The counter a value falls in: bucket b = max(0, ⌊log2 v⌋ − 7), sub-bucket v >> b, index b·128 + (v >> b).</summary>
    private static int CountsIndex(long value)
    {
        int bucket = Math.Max(0, 63 - BitOperations.LeadingZeroCount((ulong)(value | SubBucketMask)) - SubBucketHalfCountMagnitude);
        int subBucket = (int)(value >> bucket);
        return (bucket << SubBucketHalfCountMagnitude) + subBucket;
    }

    /// <summary>The largest value that maps to counter <paramref name="index"/>.</summary>
    private static long HighestEquivalentValue(int index)
    {
        int bucket = index >> SubBucketHalfCountMagnitude;
        int subBucket = (index & (SubBucketHalfCount - 1)) + SubBucketHalfCount;
        if (bucket == 0)
        {
            // Bucket 0 holds 0..255 exactly (sub-buckets 0..255 at indexes 0..255).
            return index;
        }

        // Indexes b·128 + s for s in 128..255: s = (index mod 128) + 128 and bucket = index / 128 − 1.
        bucket--;
        return (((long)subBucket + 1) << bucket) - 1;
    }
}
