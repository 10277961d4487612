namespace AspNetQuicSteer.LoadTool;

/// <summary>The HTTP version and so the handler: ours for 3, SocketsHttpHandler for 2 and 1.1.</summary>
internal enum LoadHttpVersion
{
    Http3,
    Http2,
    Http11,
}

/// <summary>A parsed and validated command line (see <see cref="LoadOptionsParser"/>).</summary>
internal sealed record LoadOptions
{
    /// <summary>The target, after {size} was replaced by --download-size.</summary>
    public required Uri Url { get; init; }

    /// <summary>-c: connections; each is its own handler (so exactly one connection each, see README.md).</summary>
    public int Connections { get; init; } = 1;

    /// <summary>-m: concurrent requests (workers) per connection.</summary>
    public int Streams { get; init; } = 1;

    /// <summary>-d: measured duration (after the warm-up); null when <see cref="Requests"/> is set.</summary>
    public TimeSpan? Duration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>-n: measured requests in total (shared by all workers); null when <see cref="Duration"/> is set.</summary>
    public long? Requests { get; init; }

    /// <summary>--warmup: requests started during this first period are not in the results.</summary>
    public TimeSpan Warmup { get; init; }

    /// <summary>--new-connection-per-request: a handshake per request.</summary>
    public bool NewConnectionPerRequest { get; init; }

    /// <summary>--method: GET or POST.</summary>
    public HttpMethod Method { get; init; } = HttpMethod.Get;

    /// <summary>--upload-size: POST body length (pattern bytes); 0 sends an empty body.</summary>
    public long UploadSize { get; init; }

    /// <summary>--download-size: substituted for {size} in the URL; informational otherwise.</summary>
    public long? DownloadSize { get; init; }

    /// <summary>-H: extra request headers, in order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    /// <summary>--verify: the body length every response must have (from /bytes/{n} or the /echo upload); null without --verify.</summary>
    public long? VerifyLength { get; init; }

    /// <summary>--insecure: accept any server certificate.</summary>
    public bool Insecure { get; init; }

    /// <summary>--ca: PEM file of trusted roots (instead of the system store).</summary>
    public string? CaFile { get; init; }

    /// <summary>--timeout: per request (whole exchange), also the handler's response headers and read idle timeouts.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>--progress: interval of the progress line on stderr; null with --quiet.</summary>
    public TimeSpan? ProgressInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>--json: file for the JSON summary, "-" for stdout; null for none.</summary>
    public string? JsonPath { get; init; }

    /// <summary>--timeline: bucket width of the completions timeline; null for none.</summary>
    public TimeSpan? TimelineInterval { get; init; }

    /// <summary>--group-by-header: response header whose value splits each timeline bucket.</summary>
    public string? GroupByHeader { get; init; }

    /// <summary>--http-version: 3 (default), 2 or 1.1.</summary>
    public LoadHttpVersion HttpVersion { get; init; } = LoadHttpVersion.Http3;

    /// <summary>Whether requests carry a body (POST).</summary>
    public bool HasBody => Method == HttpMethod.Post;

    /// <summary>The version as written on the command line: "3", "2", "1.1".</summary>
    public string HttpVersionText => HttpVersion switch
    {
        LoadHttpVersion.Http2 => "2",
        LoadHttpVersion.Http11 => "1.1",
        _ => "3",
    };
}
