using System.Buffers;
using System.Diagnostics;
using System.Net.Http.Headers;

namespace AspNetQuicSteer.LoadTool;

/// <summary>What all workers of a run share: the request template, the clock origin, the request budget, the stop signal.</summary>
internal sealed class LoadRun
{
    private long _remaining;

    public LoadRun(LoadOptions options, long measureStartTimestamp, CancellationToken stopToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        MeasureStartTimestamp = measureStartTimestamp;
        StopToken = stopToken;
        _remaining = options.Requests ?? long.MaxValue;
        Version = options.HttpVersion switch
        {
            LoadHttpVersion.Http2 => System.Net.HttpVersion.Version20,
            LoadHttpVersion.Http11 => System.Net.HttpVersion.Version11,
            _ => System.Net.HttpVersion.Version30,
        };
        Groups = options.GroupByHeader is null ? null : new TimelineGroups();
    }

    public LoadOptions Options { get; }

    /// <summary>Stopwatch timestamp where the warm-up ends and measuring starts.</summary>
    public long MeasureStartTimestamp { get; }

    /// <summary>Cancelled at the end of the duration or on Ctrl+C: requests in flight are then aborted (not failures).</summary>
    public CancellationToken StopToken { get; }

    public Version Version { get; }

    public TimelineGroups? Groups { get; }

    /// <summary>Takes one request of the -n budget (shared, so fast workers take more); false when it is used up.</summary>
    public bool TryClaimRequest() => Interlocked.Decrement(ref _remaining) >= 0;
}

/// <summary>
/// One stream of load: sends a request, reads the response body into its own pooled buffer, records, repeats until the
/// budget or time is up. Counters that the progress line reads are updated with Interlocked; the histograms, status
/// and failure counts and the timeline are read only after the worker finished.
/// </summary>
internal sealed class LoadWorker : IDisposable
{
    private const int BufferSize = 64 * 1024;

    private readonly LoadRun _run;
    private readonly HttpMessageInvoker _invoker;
    private readonly byte[] _buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
    private readonly long[] _statusCounts = new long[1000];
    private readonly long[] _failures = new long[FailureKinds.Count];
    private readonly string?[] _failureExamples = new string?[FailureKinds.Count];
    private CancellationTokenSource _requestCts = new();
    private long _started;
    private long _completed;
    private long _failed;
    private long _aborted;
    private long _warmupRequests;
    private long _bytesReceived;
    private long _bytesSent;

    public LoadWorker(LoadRun run, HttpMessageInvoker invoker)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(invoker);
        _run = run;
        _invoker = invoker;
        if (run.Options.TimelineInterval is { } bucket)
        {
            Timeline = new TimelineRecorder(run.MeasureStartTimestamp, bucket);
        }
    }

    /// <summary>Time to the last body byte of completed requests.</summary>
    public LatencyHistogram Latency { get; } = new();

    /// <summary>Time to the response headers of every measured response.</summary>
    public LatencyHistogram HeadersLatency { get; } = new();

    public TimelineRecorder? Timeline { get; }

    public long Started => Interlocked.Read(ref _started);

    public long Completed => Interlocked.Read(ref _completed);

    public long Failed => Interlocked.Read(ref _failed);

    public long Aborted => Interlocked.Read(ref _aborted);

    public long WarmupRequests => Interlocked.Read(ref _warmupRequests);

    public long BytesReceived => Interlocked.Read(ref _bytesReceived);

    public long BytesSent => Interlocked.Read(ref _bytesSent);

    /// <summary>Measured responses by status code (index = code, 0 to 999).</summary>
    public ReadOnlySpan<long> StatusCounts => _statusCounts;

    /// <summary>Failures by <see cref="FailureKind"/>.</summary>
    public ReadOnlySpan<long> Failures => _failures;

    /// <summary>The first failure of each kind, described.</summary>
    public ReadOnlySpan<string?> FailureExamples => _failureExamples;

    /// <summary>Counts request body bytes written (called by <see cref="PatternContent"/>, possibly concurrently with reads).</summary>
    public void AddSent(int count, bool measured)
    {
        if (measured)
        {
            Interlocked.Add(ref _bytesSent, count);
        }
    }

    public async Task RunAsync()
    {
        CancellationToken stop = _run.StopToken;
        await using CancellationTokenRegistration registration = stop.UnsafeRegister(static state => ((LoadWorker)state!).CancelCurrentRequest(), this);
        while (!stop.IsCancellationRequested)
        {
            long start = Stopwatch.GetTimestamp();
            bool measured = start >= _run.MeasureStartTimestamp;
            if (measured)
            {
                if (!_run.TryClaimRequest())
                {
                    break;
                }

                Interlocked.Increment(ref _started);
            }

            await SendOneAsync(start, measured).ConfigureAwait(false);
        }
    }

    private async Task SendOneAsync(long start, bool measured)
    {
        LoadOptions options = _run.Options;
        CancellationToken token = BeginRequest();
        using HttpRequestMessage request = new(options.Method, options.Url)
        {
            Version = _run.Version,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        if (options.HasBody)
        {
            request.Content = new PatternContent(options.UploadSize, this, measured);
        }

        foreach (KeyValuePair<string, string> header in options.Headers)
        {
            if (!request.Headers.TryAddWithoutValidation(header.Key, header.Value))
            {
                // Content-Type and the other content headers belong to the content (dropped without a body).
                request.Content?.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        HttpResponseMessage? response = null;
        try
        {
            response = await _invoker.SendAsync(request, token).ConfigureAwait(false);
            int status = (int)response.StatusCode;
            if (measured)
            {
                _statusCounts[Math.Clamp(status, 0, _statusCounts.Length - 1)]++;
                HeadersLatency.Record(Stopwatch.GetElapsedTime(start));
            }

            BodyVerifier verifier = new(options.VerifyLength ?? 0);
            Stream body = await response.Content.ReadAsStreamAsync(token).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                int read;
                while ((read = await body.ReadAsync(_buffer.AsMemory(0, BufferSize), token).ConfigureAwait(false)) > 0)
                {
                    if (measured)
                    {
                        Interlocked.Add(ref _bytesReceived, read);
                    }

                    if (options.VerifyLength is not null)
                    {
                        verifier.Append(_buffer.AsSpan(0, read));
                    }
                }
            }

            long end = Stopwatch.GetTimestamp();
            string? verifyError = options.VerifyLength is null ? null : verifier.Complete(response.StatusCode);
            if (verifyError is not null)
            {
                RecordFailure(FailureKind.Verify, verifyError, end, measured);
            }
            else if (measured)
            {
                TimeSpan elapsed = Stopwatch.GetElapsedTime(start, end);
                Latency.Record(elapsed);
                if (Timeline is { } timeline)
                {
                    int group = GroupOf(response);
                    timeline.RecordCompleted(end, group, elapsed.Ticks / TimeSpan.TicksPerMicrosecond);
                    _run.Groups?.CountLive(group);
                }

                Interlocked.Increment(ref _completed);
            }
            else
            {
                Interlocked.Increment(ref _warmupRequests);
            }
        }
#pragma warning disable CA1031 // Any exception of a request is a result to count, not a reason to stop the run.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            long end = Stopwatch.GetTimestamp();
            if (_run.StopToken.IsCancellationRequested)
            {
                // The run ended (duration over, Ctrl+C) while the request was in flight: neither completed nor failed.
                if (measured)
                {
                    Interlocked.Increment(ref _aborted);
                }
                else
                {
                    Interlocked.Increment(ref _warmupRequests);
                }

                return;
            }

            FailureKind kind = exception is OperationCanceledException && token.IsCancellationRequested
                ? FailureKind.Timeout
                : FailureKinds.Classify(exception);
            RecordFailure(kind, FailureKinds.Describe(exception), end, measured);
        }
        finally
        {
            response?.Dispose();
        }
    }

    private int GroupOf(HttpResponseMessage response)
    {
        if (_run.Groups is not { } groups)
        {
            return 0;
        }

        string? value = response.Headers.NonValidated.TryGetValues(_run.Options.GroupByHeader!, out HeaderStringValues values)
            ? values.ToString()
            : null;
        return groups.GetId(value);
    }

    private void RecordFailure(FailureKind kind, string description, long end, bool measured)
    {
        if (!measured)
        {
            // Warm-up requests are left out of the results, failed or not.
            Interlocked.Increment(ref _warmupRequests);
            return;
        }

        _failures[(int)kind]++;
        _failureExamples[(int)kind] ??= description;
        Timeline?.Record(end, TimelineRecorder.FailedGroup);
        Interlocked.Increment(ref _failed);
    }

    /// <summary>
    /// The token of the next request: the worker's source, reset (no allocation) unless it fired, armed with --timeout,
    /// and already cancelled when the run is stopping.
    /// </summary>
    private CancellationToken BeginRequest()
    {
        if (!_requestCts.TryReset())
        {
            CancellationTokenSource fired = _requestCts;
            Volatile.Write(ref _requestCts, new CancellationTokenSource());
            fired.Dispose();
        }

        _requestCts.CancelAfter(_run.Options.Timeout);
        if (_run.StopToken.IsCancellationRequested)
        {
            _requestCts.Cancel();
        }

        return _requestCts.Token;
    }

    private void CancelCurrentRequest()
    {
        try
        {
            Volatile.Read(ref _requestCts).Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Replaced between the read and the call; BeginRequest sees the stop on the new source.
        }
    }

    public void Dispose()
    {
        _requestCts.Dispose();
        ArrayPool<byte>.Shared.Return(_buffer);
    }
}
