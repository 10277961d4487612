using System.Globalization;
using System.Text.Json.Serialization;

namespace AspNetQuicSteer.LoadTool;

/// <summary>
/// The summary of a run as written with --json (camelCase names, see <see cref="LoadSummaryJsonContext"/>) and the
/// source of the text summary. Rates are per second of the measured period; MB = 10^6 bytes; latencies in ms.
/// </summary>
internal sealed record LoadSummary
{
    public string Tool { get; init; } = "quicsteer-load";

    public required string Url { get; init; }

    /// <summary>"3", "2" or "1.1".</summary>
    public required string HttpVersion { get; init; }

    public required string Method { get; init; }

    public required int Connections { get; init; }

    public required int StreamsPerConnection { get; init; }

    public required bool NewConnectionPerRequest { get; init; }

    public required long UploadSize { get; init; }

    public long? DownloadSize { get; init; }

    public required double WarmupSeconds { get; init; }

    /// <summary>The measured period (after the warm-up).</summary>
    public required double DurationSeconds { get; init; }

    /// <summary>Stopped by Ctrl+C before the end.</summary>
    public required bool Interrupted { get; init; }

    public required RequestCounts Requests { get; init; }

    /// <summary>Responses by status code ("200": count), ascending.</summary>
    public required IReadOnlyDictionary<string, long> StatusCodes { get; init; }

    /// <summary>Completed requests per second.</summary>
    public required double RequestsPerSecond { get; init; }

    public required ByteCounts Bytes { get; init; }

    /// <summary>Request start to last response body byte, completed requests.</summary>
    public required LatencySummary LatencyMs { get; init; }

    /// <summary>Request start to response headers, every response.</summary>
    public required LatencySummary HeadersLatencyMs { get; init; }

    public required FailureCounts Failures { get; init; }

    /// <summary>The first failure of each kind that occurred.</summary>
    public required IReadOnlyList<FailureExample> FailureExamples { get; init; }

    /// <summary>QuicSteeringHttp3Handler counters summed over the handlers; null when not available.</summary>
    public HandlerCounts? Handler { get; init; }

    /// <summary>Completions per time bucket (--timeline); null without it.</summary>
    public TimelineSummary? Timeline { get; init; }

    public static LoadSummary Create(LoadOptions options, LoadResult result)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(result);

        double seconds = result.Elapsed.TotalSeconds;
        Dictionary<string, long> statusCodes = [];
        foreach (KeyValuePair<int, long> status in result.StatusCounts)
        {
            statusCodes[status.Key.ToString(CultureInfo.InvariantCulture)] = status.Value;
        }

        List<FailureExample> examples = [];
        foreach (FailureKind kind in FailureKinds.All)
        {
            if (result.FailureExamples[(int)kind] is { } message)
            {
                examples.Add(new FailureExample { Kind = FailureKinds.Name(kind), Message = message });
            }
        }

        return new LoadSummary
        {
            Url = options.Url.AbsoluteUri,
            HttpVersion = options.HttpVersionText,
            Method = options.Method.Method,
            Connections = options.Connections,
            StreamsPerConnection = options.Streams,
            NewConnectionPerRequest = options.NewConnectionPerRequest,
            UploadSize = options.UploadSize,
            DownloadSize = options.DownloadSize,
            WarmupSeconds = Round(result.Warmup.TotalSeconds),
            DurationSeconds = Round(seconds),
            Interrupted = result.Interrupted,
            Requests = new RequestCounts
            {
                Started = result.Started,
                Completed = result.Completed,
                Failed = result.Failed,
                Aborted = result.Aborted,
                Warmup = result.WarmupRequests,
            },
            StatusCodes = statusCodes,
            RequestsPerSecond = Round(PerSecond(result.Completed, seconds)),
            Bytes = new ByteCounts
            {
                Received = result.BytesReceived,
                Sent = result.BytesSent,
                ReceivedMegabytesPerSecond = Round(PerSecond(result.BytesReceived, seconds) / 1e6),
                SentMegabytesPerSecond = Round(PerSecond(result.BytesSent, seconds) / 1e6),
            },
            LatencyMs = LatencySummary.Create(result.Latency),
            HeadersLatencyMs = LatencySummary.Create(result.HeadersLatency),
            Failures = new FailureCounts
            {
                Total = result.Failed,
                Handshake = result.FailureCount(FailureKind.Handshake),
                Protocol = result.FailureCount(FailureKind.Protocol),
                ConnectionReset = result.FailureCount(FailureKind.ConnectionReset),
                Timeout = result.FailureCount(FailureKind.Timeout),
                Verify = result.FailureCount(FailureKind.Verify),
                Other = result.FailureCount(FailureKind.Other),
            },
            FailureExamples = examples,
            Handler = result.HandlerStatistics is { } h
                ? new HandlerCounts
                {
                    Handlers = result.Handlers,
                    ConnectionsOpened = h.ConnectionsOpened,
                    HandshakesFailed = h.HandshakesFailed,
                    GoAwaysReceived = h.GoAwaysReceived,
                    RequestsRetried = h.RequestsRetried,
                    RequestsCompleted = h.RequestsCompleted,
                    RequestsFailed = h.RequestsFailed,
                }
                : null,
            Timeline = result.Timeline is { } t ? TimelineSummary.Create(t) : null,
        };
    }

    /// <summary>Writes the human-readable summary.</summary>
    public void WriteText(TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        CultureInfo c = CultureInfo.InvariantCulture;
        string plan = NewConnectionPerRequest ? ", new connection per request" : string.Empty;
        writer.WriteLine(string.Create(c, $"quicsteer-load {Url}"));
        writer.WriteLine(string.Create(c, $"  HTTP/{HttpVersion}, {Connections} connection(s) x {StreamsPerConnection} stream(s), {Method}{plan}"));
        writer.WriteLine();
        string how = Interrupted ? "interrupted after" : "finished in";
        string warmup = WarmupSeconds > 0 ? string.Create(c, $" (after {WarmupSeconds:0.###} s warm-up)") : string.Empty;
        writer.WriteLine(string.Create(c, $"{how} {DurationSeconds:0.000} s{warmup}, {RequestsPerSecond:0.0} req/s"));
        string warmupRequests = Requests.Warmup > 0 ? string.Create(c, $" ({Requests.Warmup} warm-up requests not counted)") : string.Empty;
        writer.WriteLine(string.Create(c, $"requests: {Requests.Started} started, {Requests.Completed} completed, {Requests.Failed} failed, {Requests.Aborted} aborted{warmupRequests}"));
        writer.WriteLine("status codes: " + (StatusCodes.Count == 0
            ? "none"
            : string.Join(", ", StatusCodes.Select(s => string.Create(c, $"{s.Key}: {s.Value}")))));
        writer.WriteLine(string.Create(c, $"traffic: {Bytes.Received} bytes received ({Bytes.ReceivedMegabytesPerSecond:0.00} MB/s), {Bytes.Sent} bytes sent ({Bytes.SentMegabytesPerSecond:0.00} MB/s); bodies only, 1 MB = 10^6 bytes"));
        writer.WriteLine("latency (ms):  " + LatencyMs.Format());
        writer.WriteLine("headers (ms):  " + HeadersLatencyMs.Format());
        writer.WriteLine(string.Create(c, $"failures: {Failures.Total} (handshake {Failures.Handshake}, protocol {Failures.Protocol}, connection-reset {Failures.ConnectionReset}, timeout {Failures.Timeout}, verify {Failures.Verify}, other {Failures.Other})"));
        foreach (FailureExample example in FailureExamples)
        {
            writer.WriteLine(string.Create(c, $"  first {example.Kind}: {example.Message}"));
        }

        if (Handler is { } h)
        {
            writer.WriteLine(string.Create(c, $"handler: {h.ConnectionsOpened} connections opened, {h.HandshakesFailed} handshakes failed, {h.GoAwaysReceived} GOAWAYs received, {h.RequestsRetried} requests retried (over {h.Handlers} handler(s), warm-up included)"));
        }

        if (Timeline is { } t)
        {
            string grouped = t.GroupByHeader is null ? string.Empty : string.Create(c, $", grouped by {t.GroupByHeader} ({t.Groups.Count} value(s))");
            writer.WriteLine(string.Create(c, $"timeline: {t.Buckets.Count} bucket(s) of {t.BucketMilliseconds:0.###} ms{grouped} (in the JSON)"));
        }
    }

    private static double PerSecond(long count, double seconds) => seconds > 0 ? count / seconds : 0;

    internal static double Round(double value) => Math.Round(value, 3);
}

internal sealed record RequestCounts
{
    /// <summary>Measured requests sent: completed + failed + aborted.</summary>
    public required long Started { get; init; }

    public required long Completed { get; init; }

    public required long Failed { get; init; }

    /// <summary>In flight when the run stopped.</summary>
    public required long Aborted { get; init; }

    /// <summary>Started during the warm-up; not in the other numbers.</summary>
    public required long Warmup { get; init; }
}

internal sealed record ByteCounts
{
    public required long Received { get; init; }

    public required long Sent { get; init; }

    public required double ReceivedMegabytesPerSecond { get; init; }

    public required double SentMegabytesPerSecond { get; init; }
}

/// <summary>Latency statistics in milliseconds (percentiles from the histogram, at most 0.78 % high; min, mean and max exact).</summary>
internal sealed record LatencySummary
{
    public required long Count { get; init; }

    public required double Min { get; init; }

    public required double Mean { get; init; }

    public required double P50 { get; init; }

    public required double P90 { get; init; }

    public required double P99 { get; init; }

    public required double P999 { get; init; }

    public required double Max { get; init; }

    public static LatencySummary Create(LatencyHistogram histogram)
    {
        ArgumentNullException.ThrowIfNull(histogram);
        return new LatencySummary
        {
            Count = histogram.Count,
            Min = Ms(histogram.Min),
            Mean = LoadSummary.Round(histogram.Mean / 1000.0),
            P50 = Ms(histogram.ValueAtPercentile(50)),
            P90 = Ms(histogram.ValueAtPercentile(90)),
            P99 = Ms(histogram.ValueAtPercentile(99)),
            P999 = Ms(histogram.ValueAtPercentile(99.9)),
            Max = Ms(histogram.Max),
        };
    }

    public string Format() => Count == 0
        ? "no samples"
        : string.Create(
            CultureInfo.InvariantCulture,
            $"min {Min:0.000}  mean {Mean:0.000}  p50 {P50:0.000}  p90 {P90:0.000}  p99 {P99:0.000}  p99.9 {P999:0.000}  max {Max:0.000}");

    private static double Ms(long microseconds) => microseconds / 1000.0;
}

internal sealed record FailureCounts
{
    public required long Total { get; init; }

    public required long Handshake { get; init; }

    public required long Protocol { get; init; }

    public required long ConnectionReset { get; init; }

    public required long Timeout { get; init; }

    public required long Verify { get; init; }

    public required long Other { get; init; }
}

internal sealed record FailureExample
{
    /// <summary>handshake, protocol, connection-reset, timeout, verify or other.</summary>
    public required string Kind { get; init; }

    public required string Message { get; init; }
}

internal sealed record HandlerCounts
{
    public required int Handlers { get; init; }

    public required long ConnectionsOpened { get; init; }

    public required long HandshakesFailed { get; init; }

    public required long GoAwaysReceived { get; init; }

    public required long RequestsRetried { get; init; }

    public required long RequestsCompleted { get; init; }

    public required long RequestsFailed { get; init; }
}

/// <summary>
/// Completions per bucket of <see cref="BucketMilliseconds"/>, from the end of the warm-up; every bucket up to the
/// last one with an event is listed (zeros included). With --group-by-header, <see cref="TimelineBucket.Groups"/>[i]
/// counts the completed requests whose header had the value <see cref="Groups"/>[i] (null: header absent), so it sums
/// to <see cref="TimelineBucket.Completed"/>.
/// </summary>
internal sealed record TimelineSummary
{
    public required double BucketMilliseconds { get; init; }

    /// <summary>Wall clock where bucket 0 starts (Unix ms): events logged by other processes can be placed on the timeline.</summary>
    public required long StartUnixMilliseconds { get; init; }

    public string? GroupByHeader { get; init; }

    public required IReadOnlyList<string?> Groups { get; init; }

    public required IReadOnlyList<TimelineBucket> Buckets { get; init; }

    public static TimelineSummary Create(TimelineResult timeline)
    {
        ArgumentNullException.ThrowIfNull(timeline);
        double width = timeline.BucketWidth.TotalMilliseconds;
        TimelineBucket[] buckets = new TimelineBucket[timeline.Completed.Count];
        for (int i = 0; i < buckets.Length; i++)
        {
            buckets[i] = new TimelineBucket
            {
                StartMilliseconds = LoadSummary.Round(i * width),
                Completed = timeline.Completed[i],
                Failed = timeline.Failed[i],
                Groups = timeline.GroupCounts[i],
                Latency = TimelineBucketLatency.Create(timeline.Latencies[i]),
            };
        }

        return new TimelineSummary
        {
            BucketMilliseconds = width,
            StartUnixMilliseconds = timeline.StartUnixMilliseconds,
            GroupByHeader = timeline.GroupByHeader,
            Groups = timeline.Groups,
            Buckets = buckets,
        };
    }
}

internal sealed record TimelineBucket
{
    public required double StartMilliseconds { get; init; }

    public required long Completed { get; init; }

    public required long Failed { get; init; }

    /// <summary>Completed requests by group (parallel to <see cref="TimelineSummary.Groups"/>); empty without grouping.</summary>
    public required IReadOnlyList<long> Groups { get; init; }

    /// <summary>Latency of the bucket's completed requests; null when none completed in it.</summary>
    public TimelineBucketLatency? Latency { get; init; }
}

/// <summary>
/// The latency (request start to last body byte) of one bucket's completed requests, from <see cref="BucketLatency"/>
/// counters: percentiles are counter upper bounds (at most 3.1 % high). <see cref="Histogram"/> keeps the counters so
/// that percentiles over any set of buckets (e.g. around a rollover) can be computed later (timeline-stats).
/// </summary>
internal sealed record TimelineBucketLatency
{
    public required double P50Ms { get; init; }

    public required double P99Ms { get; init; }

    public required double MaxMs { get; init; }

    /// <summary>Pairs [upper bound in µs, count], ascending by bound.</summary>
    public required IReadOnlyList<long[]> Histogram { get; init; }

    public static TimelineBucketLatency? Create(IReadOnlyList<KeyValuePair<long, long>> counts)
    {
        ArgumentNullException.ThrowIfNull(counts);
        if (counts.Count == 0)
        {
            return null;
        }

        return new TimelineBucketLatency
        {
            P50Ms = BucketLatency.ValueAtPercentile(counts, 50) / 1000.0,
            P99Ms = BucketLatency.ValueAtPercentile(counts, 99) / 1000.0,
            MaxMs = counts[^1].Key / 1000.0,
            Histogram = [.. counts.Select(c => new[] { c.Key, c.Value })],
        };
    }
}

/// <summary>Source-generated (reflection-free, trimming-safe) JSON metadata of <see cref="LoadSummary"/>.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(LoadSummary))]
internal sealed partial class LoadSummaryJsonContext : JsonSerializerContext;
