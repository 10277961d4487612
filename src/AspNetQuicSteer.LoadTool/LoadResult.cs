using AspNetQuicSteer.Client;

namespace AspNetQuicSteer.LoadTool;

/// <summary>
/// What a run measured, merged over all workers. Every count covers measured requests only (started after the
/// warm-up): Started = Completed + Failed + Aborted.
/// </summary>
internal sealed class LoadResult
{
    /// <summary>The measured period: from the end of the warm-up to the end of the duration or the last request.</summary>
    public required TimeSpan Elapsed { get; init; }

    public required TimeSpan Warmup { get; init; }

    /// <summary>Stopped early by Ctrl+C (or the caller's token).</summary>
    public required bool Interrupted { get; init; }

    public required long Started { get; init; }

    /// <summary>Requests with a whole response (any status) that passed --verify.</summary>
    public required long Completed { get; init; }

    /// <summary>Requests that ended with a transport failure or failed --verify.</summary>
    public required long Failed { get; init; }

    /// <summary>Requests in flight when the run stopped; not failures.</summary>
    public required long Aborted { get; init; }

    /// <summary>Requests started during the warm-up (any outcome), not in any other number.</summary>
    public required long WarmupRequests { get; init; }

    /// <summary>Response body bytes.</summary>
    public required long BytesReceived { get; init; }

    /// <summary>Request body bytes.</summary>
    public required long BytesSent { get; init; }

    /// <summary>Responses by status code, ascending (includes responses whose body then failed).</summary>
    public required IReadOnlyList<KeyValuePair<int, long>> StatusCounts { get; init; }

    /// <summary>Request start to last body byte, completed requests, µs.</summary>
    public required LatencyHistogram Latency { get; init; }

    /// <summary>Request start to response headers, every measured response, µs.</summary>
    public required LatencyHistogram HeadersLatency { get; init; }

    /// <summary>Failures by <see cref="FailureKind"/> (index).</summary>
    public required IReadOnlyList<long> Failures { get; init; }

    /// <summary>A description of the first failure of each kind (index), null when none.</summary>
    public required IReadOnlyList<string?> FailureExamples { get; init; }

    /// <summary>
    /// The QuicSteeringHttp3Handler counters summed over all handlers (warm-up included: they count since the handler
    /// was created); null with SocketsHttpHandler or when the handler does not report them yet.
    /// </summary>
    public QuicSteeringHttp3HandlerStatistics? HandlerStatistics { get; init; }

    /// <summary>Number of handlers (connections with -c) the run used.</summary>
    public required int Handlers { get; init; }

    public TimelineResult? Timeline { get; init; }

    public long FailureCount(FailureKind kind) => Failures[(int)kind];
}
