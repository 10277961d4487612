using System.Globalization;
using System.Text.Json;

namespace AspNetQuicSteer.LoadTool;

/// <summary>
/// An event to place on a run's timeline, given on the command line as <c>LABEL=UNIXMS</c> (wall clock, Unix
/// milliseconds), e.g. <c>"v2 active=1767225600123"</c>: what the timeline-svg markers and the timeline-stats windows
/// are made of. The label is everything before the last '='.
/// </summary>
internal sealed record TimelineMark(string Label, long UnixMilliseconds)
{
    public static bool TryParse(string text, out TimelineMark? mark, out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        mark = null;
        int equals = text.LastIndexOf('=');
        if (equals <= 0 || !long.TryParse(text.AsSpan(equals + 1), NumberStyles.None, CultureInfo.InvariantCulture, out long unixMilliseconds))
        {
            error = $"--mark '{text}': expected LABEL=UNIXMS (a label, '=', Unix time in milliseconds)";
            return false;
        }

        mark = new TimelineMark(text[..equals], unixMilliseconds);
        error = null;
        return true;
    }
}

/// <summary>One bucket of a run's timeline as read back from its JSON.</summary>
internal sealed record TimelineDataBucket(
    double StartMilliseconds,
    long Completed,
    long Failed,
    long[] Groups,
    double? P99Ms,
    IReadOnlyList<KeyValuePair<long, long>> Latency);

/// <summary>The timeline of a <c>--json</c> run read back (what the timeline subcommands work from).</summary>
internal sealed record TimelineData(
    double BucketMilliseconds,
    long? StartUnixMilliseconds,
    string? GroupByHeader,
    string[] Groups,
    IReadOnlyList<TimelineDataBucket> Buckets)
{
    /// <summary>Reads the "timeline" of a run; throws InvalidOperationException when it has none or no buckets.</summary>
    public static TimelineData Read(JsonElement run)
    {
        if (!run.TryGetProperty("timeline", out JsonElement timeline) || timeline.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidOperationException("the run has no timeline (run quicsteer-load with --timeline)");
        }

        double bucketMs = timeline.GetProperty("bucketMilliseconds").GetDouble();
        string[] groups = [.. timeline.TryGetProperty("groups", out JsonElement g) ? g.EnumerateArray().Select(e => e.GetString() ?? "(none)") : []];
        List<TimelineDataBucket> buckets = [.. timeline.GetProperty("buckets").EnumerateArray().Select(ReadBucket)];
        if (buckets.Count == 0)
        {
            throw new InvalidOperationException("the timeline has no buckets");
        }

        // Runs written before the wall-clock anchor existed have no startUnixMilliseconds: marks cannot be placed.
        long? start = timeline.TryGetProperty("startUnixMilliseconds", out JsonElement s) && s.ValueKind == JsonValueKind.Number ? s.GetInt64() : null;
        string? header = timeline.TryGetProperty("groupByHeader", out JsonElement h) && h.ValueKind == JsonValueKind.String ? h.GetString() : null;
        return new TimelineData(bucketMs, start, header, groups, buckets);
    }

    /// <summary>Where <paramref name="mark"/> falls, in ms from the start of bucket 0; throws without a wall-clock anchor.</summary>
    public double OffsetOf(TimelineMark mark)
    {
        ArgumentNullException.ThrowIfNull(mark);
        return StartUnixMilliseconds is { } start
            ? mark.UnixMilliseconds - start
            : throw new InvalidOperationException("the run's timeline has no startUnixMilliseconds, so marks cannot be placed (rerun with this quicsteer-load)");
    }

    private static TimelineDataBucket ReadBucket(JsonElement bucket)
    {
        double? p99 = null;
        List<KeyValuePair<long, long>> latency = [];
        if (bucket.TryGetProperty("latency", out JsonElement l) && l.ValueKind == JsonValueKind.Object)
        {
            p99 = l.GetProperty("p99Ms").GetDouble();
            foreach (JsonElement pair in l.GetProperty("histogram").EnumerateArray())
            {
                latency.Add(new KeyValuePair<long, long>(pair[0].GetInt64(), pair[1].GetInt64()));
            }
        }

        return new TimelineDataBucket(
            bucket.GetProperty("startMilliseconds").GetDouble(),
            bucket.GetProperty("completed").GetInt64(),
            bucket.GetProperty("failed").GetInt64(),
            bucket.TryGetProperty("groups", out JsonElement counts) ? [.. counts.EnumerateArray().Select(c => c.GetInt64())] : [],
            p99,
            latency);
    }
}
