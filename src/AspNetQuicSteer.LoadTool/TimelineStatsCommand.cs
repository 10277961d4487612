using System.Globalization;
using System.Text.Json;

namespace AspNetQuicSteer.LoadTool;

/// <summary>
/// <c>quicsteer-load timeline-stats run.json [--mark LABEL=UNIXMS]... [--radius 1s]</c>: requests, failures and
/// latency percentiles of a <c>--timeline</c> run over the whole run, within ±radius of the marks (e.g. each
/// generation's activation: "during the rollover"), over the rest ("steady state"), and around each mark. Works on
/// whole buckets: a bucket counts as within a window when any part of it overlaps. Percentiles come from the buckets'
/// latency counters (at most 3.1 % high).
/// </summary>
internal static class TimelineStatsCommand
{
    public const string Usage = "usage: quicsteer-load timeline-stats <run.json> [--mark LABEL=UNIXMS]... [--radius TIME (default 1s)]";

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        List<TimelineMark> marks = [];
        TimeSpan radius = TimeSpan.FromSeconds(1);
        string? path = null;
        for (int i = 1; i < args.Length; i++)
        {
            string? problem = null;
            if (args[i] == "--mark" && i + 1 < args.Length)
            {
                if (TimelineMark.TryParse(args[++i], out TimelineMark? mark, out problem)) marks.Add(mark!);
            }
            else if (args[i] == "--radius" && i + 1 < args.Length)
            {
                if (!LoadOptionsParser.TryParseDuration(args[++i], out radius)) problem = $"--radius '{args[i]}': expected a time such as 1s or 500ms";
            }
            else if (path is null && !args[i].StartsWith("--", StringComparison.Ordinal))
            {
                path = args[i];
            }
            else
            {
                problem = $"unexpected argument '{args[i]}'";
            }

            if (problem is not null)
            {
                await error.WriteLineAsync($"quicsteer-load timeline-stats: {problem}\n{Usage}").ConfigureAwait(false);
                return 2;
            }
        }

        if (path is null)
        {
            await error.WriteLineAsync(Usage).ConfigureAwait(false);
            return 2;
        }

        try
        {
            using JsonDocument run = JsonDocument.Parse(await File.ReadAllBytesAsync(path).ConfigureAwait(false));
            foreach (string line in Compute(TimelineData.Read(run.RootElement), marks, radius))
            {
                await output.WriteLineAsync(line).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            await error.WriteLineAsync($"quicsteer-load timeline-stats: {path}: {e.Message}").ConfigureAwait(false);
            return 1;
        }

        return 0;
    }

    /// <summary>
    /// The report lines: "all: …", then with marks "steady: …" (buckets farther than the radius from every mark),
    /// "rollover: …" (the others) and "around LABEL: …" for each mark.
    /// </summary>
    internal static IEnumerable<string> Compute(TimelineData timeline, IReadOnlyList<TimelineMark> marks, TimeSpan radius)
    {
        ArgumentNullException.ThrowIfNull(timeline);
        ArgumentNullException.ThrowIfNull(marks);
        double r = radius.TotalMilliseconds, width = timeline.BucketMilliseconds;
        double[] offsets = [.. marks.Select(timeline.OffsetOf)];
        bool Near(TimelineDataBucket bucket, double offset) => bucket.StartMilliseconds < offset + r && bucket.StartMilliseconds + width > offset - r;

        yield return "all: " + Describe(timeline.Buckets);
        if (marks.Count == 0)
        {
            yield break;
        }

        string within = string.Create(CultureInfo.InvariantCulture, $"±{r:0.###} ms");
        yield return $"steady (farther than {within} from every mark): " + Describe(timeline.Buckets.Where(b => !offsets.Any(o => Near(b, o))));
        yield return $"rollover (within {within} of {marks.Count} mark(s)): " + Describe(timeline.Buckets.Where(b => offsets.Any(o => Near(b, o))));
        for (int i = 0; i < marks.Count; i++)
        {
            double offset = offsets[i];
            yield return $"around {marks[i].Label} ({within}): " + Describe(timeline.Buckets.Where(b => Near(b, offset)));
        }
    }

    private static string Describe(IEnumerable<TimelineDataBucket> buckets)
    {
        long completed = 0, failed = 0;
        Dictionary<long, long> latency = [];
        foreach (TimelineDataBucket bucket in buckets)
        {
            completed += bucket.Completed;
            failed += bucket.Failed;
            foreach (KeyValuePair<long, long> count in bucket.Latency)
            {
                latency[count.Key] = latency.GetValueOrDefault(count.Key) + count.Value;
            }
        }

        string Ms(double percentile) => (BucketLatency.ValueAtPercentile(latency, percentile) / 1000.0).ToString("0.###", CultureInfo.InvariantCulture);
        return latency.Count == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{completed} requests, {failed} failed, no latency samples")
            : string.Create(CultureInfo.InvariantCulture, $"{completed} requests, {failed} failed, p50 {Ms(50)} ms, p99 {Ms(99)} ms, max {Ms(100)} ms");
    }
}
