using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using AspNetQuicSteer.LoadTool;
using CsCheck;

namespace AspNetQuicSteer.Client.Tests.Load;

/// <summary>
/// What the rollover demo's figures rest on (issue 7): per-bucket latency in the timeline, its wall-clock anchor,
/// timeline-stats (p99 steady vs around events), timeline-svg markers at real events, live per-group progress, and a
/// graceful stop on SIGTERM.
/// </summary>
public sealed class TimelineLatencyTests(LoadTestServer server) : IClassFixture<LoadTestServer>
{
    [Fact]
    public void BucketLatency_Percentiles_AreAtMost_3_2_PercentAboveTheExactNearestRank()
    {
        Gen.Double[0, Math.Log(LatencyHistogram.HighestTrackableMicroseconds)].Select(x => (long)Math.Exp(x)).Array[1, 2000].Sample(values =>
        {
            Dictionary<long, long> counts = [];
            foreach (long value in values)
            {
                long bound = BucketLatency.UpperBound(BucketLatency.Index(value));
                Assert.True(bound >= value, $"{value} maps to a counter ending at {bound}");
                counts[bound] = counts.GetValueOrDefault(bound) + 1;
            }

            long[] sorted = [.. values.Order()];
            foreach (double p in new[] { 0.0, 50, 90, 99, 100 })
            {
                long exact = sorted[(int)Math.Max(0, Math.Ceiling(p / 100 * sorted.Length) - 1)];
                long actual = BucketLatency.ValueAtPercentile(counts, p);
                Assert.True(actual >= exact && actual <= exact + (exact / 32) + 1, $"p{p}: {actual} vs exact {exact}");
            }
        });
    }

    [Fact]
    public void BucketLatency_IsExactBelow64Microseconds_AndClampsTheRange()
    {
        for (long v = 0; v < 64; v++)
        {
            Assert.Equal(v, BucketLatency.UpperBound(BucketLatency.Index(v)));
        }

        Assert.Equal(BucketLatency.Index(0), BucketLatency.Index(-5));
        Assert.Equal(BucketLatency.Index(LatencyHistogram.HighestTrackableMicroseconds), BucketLatency.Index(long.MaxValue));
        Assert.Equal(0, BucketLatency.ValueAtPercentile([], 99));
    }

    [Fact]
    public void Recorder_KeepsLatencyPerBucket_AndMergeSumsTheWorkers()
    {
        long origin = 1_000_000;
        long tick = Stopwatch.Frequency / 10; // 100 ms
        TimelineRecorder a = new(origin, TimeSpan.FromMilliseconds(100)), b = new(origin, TimeSpan.FromMilliseconds(100));
        a.RecordCompleted(origin + 1, group: 0, microseconds: 1000);
        b.RecordCompleted(origin + 2, group: 1, microseconds: 1000);
        b.RecordCompleted(origin + tick + 1, group: 1, microseconds: 50_000);
        a.Record(origin + (2 * tick) + 1, TimelineRecorder.FailedGroup);

        TimelineResult merged = TimelineResult.Merge(TimeSpan.FromMilliseconds(100), 1_700_000_000_000, "x-app-version", ["v1", "v2"], [a, b]);

        Assert.Equal(1_700_000_000_000, merged.StartUnixMilliseconds);
        Assert.Equal([2L, 1, 0], merged.Completed);
        Assert.Equal([0L, 0, 1], merged.Failed);
        KeyValuePair<long, long> first = Assert.Single(merged.Latencies[0]);
        Assert.Equal(2, first.Value); // both workers' 1 ms requests in one counter
        Assert.InRange(first.Key, 1000, 1032);
        Assert.InRange(Assert.Single(merged.Latencies[1]).Key, 50_000, 51_600);
        Assert.Empty(merged.Latencies[2]); // a failure has no latency

        TimelineSummary summary = TimelineSummary.Create(merged);
        Assert.Null(summary.Buckets[2].Latency);
        Assert.Equal(first.Key / 1000.0, summary.Buckets[0].Latency!.P99Ms);
        Assert.Equal([first.Key, 2L], summary.Buckets[0].Latency!.Histogram[0]);
    }

    [Fact]
    public async Task Run_Timeline_HasWallClockStart_AndLatencyCountsMatchCompletions()
    {
        long before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        StringWriter stdout = new();
        int exitCode = await LoadCommand.RunAsync(
            [$"{server.BaseUrl}/bytes/100", "-n", "300", "-c", "2", "-m", "4", "--timeline", "100ms", "--group-by-header", "x-app-version",
             "--http-version", "2", "--insecure", "--quiet", "--json", "-"],
            stdout,
            new StringWriter(),
            TestContext.Current.CancellationToken);
        long after = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        Assert.Equal(0, exitCode);
        using JsonDocument document = JsonDocument.Parse(stdout.ToString());
        JsonElement timeline = document.RootElement.GetProperty("timeline");
        Assert.InRange(timeline.GetProperty("startUnixMilliseconds").GetInt64(), before, after);
        long latencySamples = 0;
        foreach (JsonElement bucket in timeline.GetProperty("buckets").EnumerateArray())
        {
            long completed = bucket.GetProperty("completed").GetInt64();
            JsonElement latency = bucket.GetProperty("latency");
            if (completed == 0)
            {
                Assert.Equal(JsonValueKind.Null, latency.ValueKind);
                continue;
            }

            long samples = latency.GetProperty("histogram").EnumerateArray().Sum(pair => pair[1].GetInt64());
            Assert.Equal(completed, samples);
            Assert.True(latency.GetProperty("p50Ms").GetDouble() <= latency.GetProperty("p99Ms").GetDouble());
            Assert.True(latency.GetProperty("p99Ms").GetDouble() <= latency.GetProperty("maxMs").GetDouble());
            latencySamples += samples;
        }

        Assert.Equal(300, latencySamples);
        TimelineData data = TimelineData.Read(document.RootElement);
        Assert.Equal(["v1", "v2"], data.Groups.Order());
    }

    /// <summary>Ten 100 ms buckets from t0: 10 requests of 1 ms each, but bucket 5 has 10 of 200 ms (the rollover).</summary>
    private static string SyntheticRun(bool withStart = true)
    {
        string start = withStart ? "\"startUnixMilliseconds\":1700000000000," : string.Empty;
        IEnumerable<string> buckets = Enumerable.Range(0, 10).Select(i => i == 5
            ? """{"startMilliseconds":500,"completed":10,"failed":1,"groups":[2,8],"latency":{"p50Ms":200.703,"p99Ms":200.703,"maxMs":200.703,"histogram":[[200703,10]]}}"""
            : string.Create(CultureInfo.InvariantCulture, $$$"""{"startMilliseconds":{{{i * 100}}},"completed":10,"failed":0,"groups":[{{{(i < 5 ? 10 : 0)}}},{{{(i < 5 ? 0 : 10)}}}],"latency":{"p50Ms":1.007,"p99Ms":1.007,"maxMs":1.007,"histogram":[[1007,10]]}}"""));
        return $$$"""{"timeline":{"bucketMilliseconds":100,{{{start}}}"groupByHeader":"x-app-version","groups":["v1","v2"],"buckets":[{{{string.Join(",", buckets)}}}]}}""";
    }

    [Fact]
    public void Stats_SeparateSteadyStateFromTheWindowAroundEachMark()
    {
        using JsonDocument run = JsonDocument.Parse(SyntheticRun());
        TimelineData data = TimelineData.Read(run.RootElement);
        // The mark at 550 ms with a 100 ms radius touches buckets 4, 5 and 6 (450..650 overlaps them).
        string[] lines = [.. TimelineStatsCommand.Compute(data, [new TimelineMark("v2 active", 1_700_000_000_550)], TimeSpan.FromMilliseconds(100))];

        Assert.Equal("all: 100 requests, 1 failed, p50 1.007 ms, p99 200.703 ms, max 200.703 ms", lines[0]);
        Assert.Equal("steady (farther than ±100 ms from every mark): 70 requests, 0 failed, p50 1.007 ms, p99 1.007 ms, max 1.007 ms", lines[1]);
        Assert.Equal("rollover (within ±100 ms of 1 mark(s)): 30 requests, 1 failed, p50 1.007 ms, p99 200.703 ms, max 200.703 ms", lines[2]);
        Assert.Equal("around v2 active (±100 ms): 30 requests, 1 failed, p50 1.007 ms, p99 200.703 ms, max 200.703 ms", lines[3]);
        Assert.Single(TimelineStatsCommand.Compute(data, [], TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task Stats_Command_ReportsUsageAndInputErrors()
    {
        using Quic.Tests.Interop.TempDirectory directory = new();
        string json = directory.Combine("run.json");
        await File.WriteAllTextAsync(json, SyntheticRun(withStart: false), TestContext.Current.CancellationToken);

        StringWriter output = new(), error = new();
        Assert.Equal(0, await TimelineStatsCommand.RunAsync(["timeline-stats", json], output, error));
        Assert.StartsWith("all: 100 requests", output.ToString(), StringComparison.Ordinal);
        // Marks need the wall-clock anchor, which this (older) run lacks.
        Assert.Equal(1, await TimelineStatsCommand.RunAsync(["timeline-stats", json, "--mark", "v2 active=1700000000550"], TextWriter.Null, error));
        Assert.Contains("startUnixMilliseconds", error.ToString(), StringComparison.Ordinal);
        Assert.Equal(2, await TimelineStatsCommand.RunAsync(["timeline-stats", json, "--mark", "no-time"], TextWriter.Null, error));
        Assert.Contains("LABEL=UNIXMS", error.ToString(), StringComparison.Ordinal);
        Assert.Equal(2, await TimelineStatsCommand.RunAsync(["timeline-stats", json, "--radius", "soon"], TextWriter.Null, error));
        Assert.Equal(2, await TimelineStatsCommand.RunAsync(["timeline-stats"], TextWriter.Null, error));
    }

    [Fact]
    public void Svg_DrawsMarksAtTheirWallClockTime_AndTheP99Line()
    {
        using JsonDocument run = JsonDocument.Parse(SyntheticRun());
        string svg = TimelineSvgCommand.Render(run.RootElement, [new TimelineMark("v2 active", 1_700_000_000_500), new TimelineMark("v1 exit", 1_700_000_001_500)]);

        Assert.Contains(">v2 active<", svg, StringComparison.Ordinal);
        Assert.Contains(">v1 exit<", svg, StringComparison.Ordinal);
        Assert.DoesNotContain(" answers<", svg, StringComparison.Ordinal); // real events replace the derived markers
        Assert.Contains("<polyline", svg, StringComparison.Ordinal);
        Assert.Contains(">p99 ms<", svg, StringComparison.Ordinal);
        // The axis runs to the exit (after the last bucket): 0..1600 ms over the 820 px plot from x = 70, so the
        // activation at 500 ms is at 70 + 820 * 500 / 1600 = 326.25, the exit at 70 + 820 * 1500 / 1600 = 838.75.
        Assert.Contains("x1=\"326.25\"", svg, StringComparison.Ordinal);
        Assert.Contains("x1=\"838.75\"", svg, StringComparison.Ordinal);
        // The activation takes v2's color, the exit v1's.
        Assert.Contains("fill=\"#f28e2b\">v2 active<", svg, StringComparison.Ordinal);
        Assert.Contains("fill=\"#4e79a7\">v1 exit<", svg, StringComparison.Ordinal);
        using var parsed = System.Xml.XmlReader.Create(new StringReader(svg));
        while (parsed.Read())
        {
            // well-formed XML all the way through
        }
    }

    [Fact]
    public async Task Svg_Command_TakesMarks_AndRejectsBadOnes()
    {
        using Quic.Tests.Interop.TempDirectory directory = new();
        string json = directory.Combine("run.json"), svg = directory.Combine("out.svg");
        await File.WriteAllTextAsync(json, SyntheticRun(), TestContext.Current.CancellationToken);

        Assert.Equal(0, await TimelineSvgCommand.RunAsync(["timeline-svg", json, svg, "--mark", "v2 active=1700000000500"], TextWriter.Null, TextWriter.Null));
        Assert.Contains(">v2 active<", await File.ReadAllTextAsync(svg, TestContext.Current.CancellationToken), StringComparison.Ordinal);
        StringWriter error = new();
        Assert.Equal(2, await TimelineSvgCommand.RunAsync(["timeline-svg", json, svg, "--mark", "v2 active=soon"], TextWriter.Null, error));
        Assert.Contains("LABEL=UNIXMS", error.ToString(), StringComparison.Ordinal);
        Assert.Equal(2, await TimelineSvgCommand.RunAsync(["timeline-svg", json, "--mark", "a=1"], TextWriter.Null, TextWriter.Null));
    }

    [Fact]
    public void ProgressLine_WithGroups_ShowsEachGroupsCompletionsAndFailuresInTheInterval()
    {
        LoadProgress previous = new(TimeSpan.FromSeconds(1), false, 100, 1, 0, 0) { GroupNames = ["v1"], GroupCompleted = [100] };
        LoadProgress current = new(TimeSpan.FromSeconds(1.1), false, 150, 3, 0, 0) { GroupNames = ["v1", "v2"], GroupCompleted = [110, 40] };

        Assert.Equal(
            "[    1.1s] 150 done, 500.0 req/s, 0.00 MB/s in, 0.00 MB/s out, 3 failed  [interval: v1 10, v2 40, failed 2]",
            ProgressReporter.Format(current, previous));
    }

    [Fact]
    public async Task Progress_CountsEachGroupLive()
    {
        StringWriter stderr = new();
        int exitCode = await LoadCommand.RunAsync(
            [$"{server.BaseUrl}/slow/20", "-d", "1s", "-c", "1", "-m", "4", "--timeline", "100ms", "--group-by-header", "x-app-version",
             "--progress", "200ms", "--http-version", "2", "--insecure"],
            new StringWriter(),
            TextWriter.Synchronized(stderr),
            TestContext.Current.CancellationToken);

        Assert.Equal(0, exitCode);
        // Both versions answered during the run, so some interval line names each with a non-zero count.
        string progress = stderr.ToString();
        Assert.Matches(@"\[interval:.* v1 [1-9]", progress);
        Assert.Matches(@"\[interval:.* v2 [1-9]", progress);
    }

    [Fact]
    public async Task Sigterm_StopsTheRun_AndStillWritesTheSummary()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "SIGTERM is POSIX");
        string tool = Path.Combine(AppContext.BaseDirectory, "quicsteer-load.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in new[] { tool, $"{server.BaseUrl}/bytes/10", "-d", "120s", "--http-version", "2", "--insecure", "--progress", "100ms" })
        {
            start.ArgumentList.Add(argument);
        }

        using var load = Process.Start(start)!;
        Task<string> stdout = load.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        // Wait until requests complete, then ask it to stop as a script would (kill -TERM).
        while (await load.StandardError.ReadLineAsync(TestContext.Current.CancellationToken) is { } line)
        {
            if (line.Contains(" done,", StringComparison.Ordinal) && !line.Contains(" 0 done,", StringComparison.Ordinal)) break;
        }

        Task<string> rest = load.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken); // keep the pipe drained
        using (var kill = Process.Start("kill", ["-TERM", load.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync(TestContext.Current.CancellationToken);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(20));
        try
        {
            await load.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            load.Kill();
            throw;
        }

        string summary = await stdout;
        Assert.Contains("SIGTERM, stopping", await rest, StringComparison.Ordinal);
        Assert.Equal(0, load.ExitCode);
        Assert.Contains("interrupted after", summary, StringComparison.Ordinal);
        Assert.Contains("failures: 0 ", summary, StringComparison.Ordinal);
    }
}
