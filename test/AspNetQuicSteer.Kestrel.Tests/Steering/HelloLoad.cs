using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using AspNetQuicSteer.Client;

namespace AspNetQuicSteer.Kestrel.Tests.Steering;

/// <summary>
/// A steady HTTP/3 load on a shared port's /hello, with the project's client: <c>connections</c> handlers (one HttpClient
/// each, at most one connection per origin, so the load holds exactly that many QUIC connections at a time), each
/// with <c>concurrency</c> workers sending one request after another. Every request is recorded with its client, its
/// start and end on one clock, and the x-app-version that answered or the failure, so a test can tell which
/// generation held what when it killed one.
/// </summary>
internal sealed class HelloLoad : IAsyncDisposable
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly ConcurrentQueue<HelloResult> _results = new();
    private readonly QuicSteeringHttp3Handler[] _handlers;
    private readonly HttpClient[] _clients;
    private readonly Uri _url;
    private readonly Task _workers;
    private volatile bool _stopping;

    private HelloLoad(int port, int connections, int concurrency)
    {
        _url = new Uri($"https://127.0.0.1:{port}/hello");
        Connections = connections;
        Concurrency = concurrency;
        _handlers = new QuicSteeringHttp3Handler[connections];
        _clients = new HttpClient[connections];
        for (int i = 0; i < connections; i++)
        {
            _handlers[i] = new QuicSteeringHttp3Handler(Options());
            _clients[i] = new HttpClient(_handlers[i], disposeHandler: true)
            {
                DefaultRequestVersion = HttpVersion.Version30,
                DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
                Timeout = TimeSpan.FromSeconds(30),
            };
        }

        _workers = Task.WhenAll(Enumerable.Range(0, connections * concurrency).Select(w => Task.Run(() => WorkAsync(w / concurrency))));
    }

    public int Connections { get; }

    public int Concurrency { get; }

    /// <summary>Time since the load started: the clock <see cref="HelloResult"/> times are on.</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>A snapshot of the requests that have ended, in the order they ended.</summary>
    public IReadOnlyList<HelloResult> Results => [.. _results];

    public static HelloLoad Start(int port, int connections = 4, int concurrency = 8) => new(port, connections, concurrency);

    /// <summary>Waits until <paramref name="condition"/> holds for the results so far; fails with a summary otherwise.</summary>
    public async Task WaitUntilAsync(Func<IReadOnlyList<HelloResult>, bool> condition, TimeSpan timeout, string what)
    {
        var waited = Stopwatch.StartNew();
        while (!condition(Results))
        {
            if (waited.Elapsed > timeout) Assert.Fail($"load: {what} did not happen within {timeout.TotalSeconds:0} s\n{Describe()}");
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>Lets every worker finish the request it is on and stops; returns every result.</summary>
    public async Task<IReadOnlyList<HelloResult>> StopAsync()
    {
        _stopping = true;
        await _workers.WaitAsync(TimeSpan.FromSeconds(40), TestContext.Current.CancellationToken);
        return Results;
    }

    /// <summary>Per version and per failure message counts, and each handler's counters, for messages and logs.</summary>
    public string Describe()
    {
        IReadOnlyList<HelloResult> results = Results;
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{Connections} connection(s) x {Concurrency}, {Elapsed.TotalSeconds:0.0} s, {results.Count} request(s):");
        foreach (IGrouping<string, HelloResult> group in results.GroupBy(r => r.Version ?? "failed").OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            text.Append(CultureInfo.InvariantCulture, $" {group.Key}={group.Count()}");
        }

        text.AppendLine();
        foreach (IGrouping<string, HelloResult> failure in results.Where(r => r.Failure is not null).GroupBy(r => r.Failure!))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  {failure.Count()} x {failure.Key} (clients {string.Join(",", failure.Select(f => f.Client).Distinct().Order())}, "
                + $"ended {failure.Min(f => f.Ended.TotalMilliseconds):0}..{failure.Max(f => f.Ended.TotalMilliseconds):0} ms)");
        }

        for (int i = 0; i < _handlers.Length; i++) text.AppendLine(CultureInfo.InvariantCulture, $"  client {i}: {_handlers[i].GetStatistics()}");
        return text.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        _stopping = true;
        try
        {
            await _workers.WaitAsync(TimeSpan.FromSeconds(40));
        }
        catch (TimeoutException)
        {
            // Disposing the clients below aborts what is left.
        }

        foreach (HttpClient client in _clients) client.Dispose();
    }

    private async Task WorkAsync(int client)
    {
        while (!_stopping)
        {
            TimeSpan started = _clock.Elapsed;
            string? version = null;
            string? failure = null;
            try
            {
                using HttpResponseMessage response = await _clients[client].GetAsync(_url, TestContext.Current.CancellationToken);
                string body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
                string? header = response.Headers.TryGetValues("x-app-version", out IEnumerable<string>? values) ? values.Single() : null;

                // The body names the version too: a response cut short (an empty body after a reset) is a failure, not a success.
                if (response.StatusCode != HttpStatusCode.OK) failure = $"status {(int)response.StatusCode}";
                else if (header is null || body != $"Hello from {header} over HTTP/3\n") failure = $"unexpected response: x-app-version {header ?? "(none)"}, body '{body.TrimEnd()}'";
                else version = header;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
            {
                failure = $"{e.GetType().Name}: {e.InnerException?.Message ?? e.Message}";
            }

            _results.Enqueue(new HelloResult(client, started, _clock.Elapsed, version, failure));
        }
    }

#pragma warning disable CA5359 // The sample site serves its self-signed development certificate; the load tests steering, not PKI.
    private static QuicSteeringHttp3HandlerOptions Options() => new()
    {
        ServerCertificateCustomValidationCallback = static (_, _, _, _) => true,
        MaxConnectionsPerOrigin = 1,
        ConnectTimeout = TimeSpan.FromSeconds(10),

        // A connection whose server died silently must not hold a worker for the default 100 s.
        ResponseHeadersTimeout = TimeSpan.FromSeconds(10),
        ReadIdleTimeout = TimeSpan.FromSeconds(10),
    };
#pragma warning restore CA5359
}

/// <summary>One /hello request of a <see cref="HelloLoad"/>: the version that answered, or why it failed.</summary>
internal sealed record HelloResult(int Client, TimeSpan Started, TimeSpan Ended, string? Version, string? Failure)
{
    public bool Succeeded => Failure is null;
}
