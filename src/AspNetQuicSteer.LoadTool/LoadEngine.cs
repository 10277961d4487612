using System.Diagnostics;
using AspNetQuicSteer.Client;

namespace AspNetQuicSteer.LoadTool;

/// <summary>A live view of a run for the progress line.</summary>
internal readonly record struct LoadProgress(
    TimeSpan Elapsed,
    bool WarmingUp,
    long Completed,
    long Failed,
    long BytesReceived,
    long BytesSent)
{
    // The getters map null to empty because default(LoadProgress) (the snapshot before the run starts) skips initializers.

    /// <summary>With --group-by-header: the header values seen so far (null: header absent); empty otherwise.</summary>
    public IReadOnlyList<string?> GroupNames { get => field ?? []; init; }

    /// <summary>Completed requests so far per group, parallel to <see cref="GroupNames"/>.</summary>
    public IReadOnlyList<long> GroupCompleted { get => field ?? []; init; }
}

/// <summary>
/// Runs the load: -c handlers from the factory (one per connection), -m workers on each, all sending until the -n
/// budget is used up or the warm-up plus -d is over (then requests in flight are cancelled and counted as aborted).
/// The factory makes the engine independent of the handler: QuicSteeringHttp3Handler in production, SocketsHttpHandler
/// for --http-version 2/1.1 and tests.
/// </summary>
internal sealed class LoadEngine
{
    private readonly LoadOptions _options;
    private readonly Func<HttpMessageHandler> _handlerFactory;
    private LoadWorker[] _workers = [];
    private long _startTimestamp;
    private long _measureStartTimestamp;
    private TimelineGroups? _groups;

    public LoadEngine(LoadOptions options, Func<HttpMessageHandler> handlerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(handlerFactory);
        _options = options;
        _handlerFactory = handlerFactory;
    }

    /// <summary>Counters so far (safe to call from another thread while the run goes on).</summary>
    public LoadProgress GetProgress()
    {
        LoadWorker[] workers = Volatile.Read(ref _workers);
        if (workers.Length == 0)
        {
            return default;
        }

        long completed = 0, failed = 0, received = 0, sent = 0;
        foreach (LoadWorker worker in workers)
        {
            completed += worker.Completed;
            failed += worker.Failed;
            received += worker.BytesReceived;
            sent += worker.BytesSent;
        }

        long now = Stopwatch.GetTimestamp();
        LoadProgress progress = new(Stopwatch.GetElapsedTime(_startTimestamp, now), now < _measureStartTimestamp, completed, failed, received, sent);
        if (Volatile.Read(ref _groups) is { } groups)
        {
            (IReadOnlyList<string?> names, long[] perGroup) = groups.GetLive();
            progress = progress with { GroupNames = names, GroupCompleted = perGroup };
        }

        return progress;
    }

    /// <summary>Runs to the end; <paramref name="cancellationToken"/> (Ctrl+C) stops early with the results so far.</summary>
    public async Task<LoadResult> RunAsync(CancellationToken cancellationToken)
    {
        HttpMessageHandler[] handlers = new HttpMessageHandler[_options.Connections];
        HttpMessageInvoker[] invokers = new HttpMessageInvoker[_options.Connections];
        List<LoadWorker> workers = new(_options.Connections * _options.Streams);
        try
        {
            for (int i = 0; i < handlers.Length; i++)
            {
                handlers[i] = _handlerFactory();
                invokers[i] = new HttpMessageInvoker(handlers[i], disposeHandler: false);
            }

            using CancellationTokenSource stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            long start = Stopwatch.GetTimestamp();
            // The wall clock of the same instant, so that the timeline can be lined up with events logged by other
            // processes (a rollover demo's activations and exits).
            long startUnixMilliseconds = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            long measureStart = start + ToStopwatchTicks(_options.Warmup);
            LoadRun run = new(_options, measureStart, stop.Token);
            foreach (HttpMessageInvoker invoker in invokers)
            {
                for (int s = 0; s < _options.Streams; s++)
                {
                    workers.Add(new LoadWorker(run, invoker));
                }
            }

            _startTimestamp = start;
            _measureStartTimestamp = measureStart;
            Volatile.Write(ref _groups, run.Groups);
            Volatile.Write(ref _workers, [.. workers]);
            if (_options.Duration is { } duration)
            {
                stop.CancelAfter(_options.Warmup + duration);
            }

            Task[] tasks = new Task[workers.Count];
            for (int i = 0; i < tasks.Length; i++)
            {
                tasks[i] = Task.Run(workers[i].RunAsync, CancellationToken.None);
            }

            await Task.WhenAll(tasks).ConfigureAwait(false);
            long end = Stopwatch.GetTimestamp();
            if (_options.Duration is { } measured)
            {
                end = Math.Min(end, measureStart + ToStopwatchTicks(measured));
            }

            return Merge(
                workers,
                run,
                startUnixMilliseconds + (long)_options.Warmup.TotalMilliseconds,
                elapsed: end > measureStart ? Stopwatch.GetElapsedTime(measureStart, end) : TimeSpan.Zero,
                interrupted: cancellationToken.IsCancellationRequested,
                handlerStatistics: CollectStatistics(handlers),
                handlerCount: handlers.Length);
        }
        finally
        {
            foreach (LoadWorker worker in workers)
            {
                worker.Dispose();
            }

            foreach (HttpMessageInvoker? invoker in invokers)
            {
                invoker?.Dispose();
            }

            foreach (HttpMessageHandler? handler in handlers)
            {
                handler?.Dispose();
            }
        }
    }

    private LoadResult Merge(
        List<LoadWorker> workers,
        LoadRun run,
        long measureStartUnixMilliseconds,
        TimeSpan elapsed,
        bool interrupted,
        QuicSteeringHttp3HandlerStatistics? handlerStatistics,
        int handlerCount)
    {
        LatencyHistogram latency = new();
        LatencyHistogram headersLatency = new();
        long[] statuses = new long[1000];
        long[] failures = new long[FailureKinds.Count];
        string?[] examples = new string?[FailureKinds.Count];
        long started = 0, completed = 0, failed = 0, aborted = 0, warmup = 0, received = 0, sent = 0;
        foreach (LoadWorker worker in workers)
        {
            latency.Add(worker.Latency);
            headersLatency.Add(worker.HeadersLatency);
            for (int i = 0; i < statuses.Length; i++)
            {
                statuses[i] += worker.StatusCounts[i];
            }

            for (int k = 0; k < failures.Length; k++)
            {
                failures[k] += worker.Failures[k];
                examples[k] ??= worker.FailureExamples[k];
            }

            started += worker.Started;
            completed += worker.Completed;
            failed += worker.Failed;
            aborted += worker.Aborted;
            warmup += worker.WarmupRequests;
            received += worker.BytesReceived;
            sent += worker.BytesSent;
        }

        List<KeyValuePair<int, long>> statusCounts = [];
        for (int code = 0; code < statuses.Length; code++)
        {
            if (statuses[code] != 0)
            {
                statusCounts.Add(new KeyValuePair<int, long>(code, statuses[code]));
            }
        }

        TimelineResult? timeline = _options.TimelineInterval is { } bucket
            ? TimelineResult.Merge(bucket, measureStartUnixMilliseconds, _options.GroupByHeader, run.Groups?.GetNames() ?? [], workers.Select(w => w.Timeline!))
            : null;

        return new LoadResult
        {
            Elapsed = elapsed,
            Warmup = _options.Warmup,
            Interrupted = interrupted,
            Started = started,
            Completed = completed,
            Failed = failed,
            Aborted = aborted,
            WarmupRequests = warmup,
            BytesReceived = received,
            BytesSent = sent,
            StatusCounts = statusCounts,
            Latency = latency,
            HeadersLatency = headersLatency,
            Failures = failures,
            FailureExamples = examples,
            HandlerStatistics = handlerStatistics,
            Handlers = handlerCount,
            Timeline = timeline,
        };
    }

    /// <summary>
    /// Sums GetStatistics() over the handlers when they are QuicSteeringHttp3Handlers; null otherwise, or while the
    /// handler does not implement it yet.
    /// </summary>
    private static QuicSteeringHttp3HandlerStatistics? CollectStatistics(HttpMessageHandler[] handlers)
    {
        QuicSteeringHttp3HandlerStatistics? total = null;
        foreach (HttpMessageHandler handler in handlers)
        {
            if (handler is not QuicSteeringHttp3Handler ours)
            {
                return null;
            }

            QuicSteeringHttp3HandlerStatistics statistics;
            try
            {
                statistics = ours.GetStatistics();
            }
            catch (NotImplementedException)
            {
                return null;
            }

            total = total is null
                ? statistics
                : new QuicSteeringHttp3HandlerStatistics
                {
                    ConnectionsOpened = total.ConnectionsOpened + statistics.ConnectionsOpened,
                    HandshakesFailed = total.HandshakesFailed + statistics.HandshakesFailed,
                    GoAwaysReceived = total.GoAwaysReceived + statistics.GoAwaysReceived,
                    RequestsRetried = total.RequestsRetried + statistics.RequestsRetried,
                    RequestsCompleted = total.RequestsCompleted + statistics.RequestsCompleted,
                    RequestsFailed = total.RequestsFailed + statistics.RequestsFailed,
                };
        }

        return total;
    }

    private static long ToStopwatchTicks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);
}
