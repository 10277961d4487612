using AspNetQuicSteer.LoadTool;
using CsCheck;

namespace AspNetQuicSteer.Client.Tests.Load;

public sealed class LatencyHistogramTests
{
    private static readonly double[] s_percentiles = [0, 1, 10, 50, 90, 99, 99.9, 99.99, 100];

    /// <summary>Uniform over the whole range, and log-uniform (mostly small values, like real latencies).</summary>
    private static readonly Gen<long[]> s_samples = Gen.OneOf(
        Gen.Long[0, LatencyHistogram.HighestTrackableMicroseconds].Array[1, 3000],
        Gen.Double[0, Math.Log(LatencyHistogram.HighestTrackableMicroseconds)].Select(x => (long)Math.Exp(x)).Array[1, 3000],
        Gen.Long[0, 1000].Array[1, 500]);

    [Fact]
    public void Percentiles_AreWithinOnePercentOfTheExactNearestRank()
    {
        s_samples.Sample(values =>
        {
            LatencyHistogram histogram = new();
            foreach (long value in values)
            {
                histogram.Record(value);
            }

            long[] sorted = [.. values.Order()];
            foreach (double p in s_percentiles)
            {
                long exact = ExactPercentile(sorted, p);
                long actual = histogram.ValueAtPercentile(p);
                Assert.True(actual >= exact && actual <= exact + (exact / 100), $"p{p}: {actual} vs exact {exact}");
            }

            Assert.Equal(sorted.Length, histogram.Count);
            Assert.Equal(sorted[0], histogram.Min);
            Assert.Equal(sorted[^1], histogram.Max);
            Assert.Equal(sorted.Sum(), histogram.Sum);
            Assert.Equal((double)sorted.Sum() / sorted.Length, histogram.Mean, 6);
        });
    }

    [Fact]
    public void Merge_EqualsRecordingEverythingInOne()
    {
        Gen.Select(s_samples, s_samples).Sample((first, second) =>
        {
            LatencyHistogram a = new(), b = new(), all = new();
            foreach (long value in first)
            {
                a.Record(value);
                all.Record(value);
            }

            foreach (long value in second)
            {
                b.Record(value);
                all.Record(value);
            }

            a.Add(b);
            Assert.Equal(all.Count, a.Count);
            Assert.Equal(all.Min, a.Min);
            Assert.Equal(all.Max, a.Max);
            Assert.Equal(all.Sum, a.Sum);
            foreach (double p in s_percentiles)
            {
                Assert.Equal(all.ValueAtPercentile(p), a.ValueAtPercentile(p));
            }
        }, iter: 50);
    }

    [Fact]
    public void SmallValues_AreExact()
    {
        LatencyHistogram histogram = new();
        for (int v = 0; v < 256; v++)
        {
            histogram.Record(v);
        }

        for (int rank = 1; rank <= 256; rank++)
        {
            Assert.Equal(rank - 1, histogram.ValueAtPercentile(rank * 100.0 / 256));
        }
    }

    [Fact]
    public void ValuesAboveTheRange_KeepTheExactMax()
    {
        LatencyHistogram histogram = new();
        histogram.Record(1);
        histogram.Record(2 * LatencyHistogram.HighestTrackableMicroseconds);

        Assert.Equal(2 * LatencyHistogram.HighestTrackableMicroseconds, histogram.Max);
        Assert.Equal(2 * LatencyHistogram.HighestTrackableMicroseconds, histogram.ValueAtPercentile(100));
        Assert.Equal(1, histogram.ValueAtPercentile(50));
    }

    [Fact]
    public void Empty_ReportsZeros_AndMergesAsNothing()
    {
        LatencyHistogram empty = new();
        Assert.Equal(0, empty.ValueAtPercentile(99));
        Assert.Equal(0, empty.Min);
        Assert.Equal(0, empty.Max);
        Assert.Equal(0, empty.Mean);

        LatencyHistogram one = new();
        one.Record(TimeSpan.FromMilliseconds(1.5));
        one.Add(empty);
        Assert.Equal(1, one.Count);
        Assert.Equal(1500, one.Min);
        Assert.Equal(1500, one.ValueAtPercentile(50));
    }

    [Fact]
    public void NegativeValues_CountAsZero()
    {
        LatencyHistogram histogram = new();
        histogram.Record(-5);
        Assert.Equal(0, histogram.Max);
        Assert.Equal(1, histogram.Count);
    }

    private static long ExactPercentile(long[] sorted, double percentile)
    {
        long rank = Math.Clamp((long)Math.Ceiling(percentile / 100.0 * sorted.Length), 1, sorted.Length);
        return sorted[rank - 1];
    }
}
