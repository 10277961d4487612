using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;

namespace SampleSite;

/// <summary>The sample's endpoints. Every response is generated or streamed, so no size is ever buffered whole.</summary>
internal static class SiteEndpoints
{
    /// <summary>Largest /bytes/{n}: big enough for throughput runs, small enough that a typo cannot stream forever.</summary>
    public const long MaxBytes = 1L << 30;

    /// <summary>Longest /slow/{ms}: keeps a forgotten request from holding a connection (and a drain) for long.</summary>
    public const int MaxSlowMilliseconds = 60_000;

    /// <summary>Interval between /slow lines: frequent enough that a client sees the response progress.</summary>
    public const int SlowLineIntervalMilliseconds = 100;

    /// <summary>Bytes of one /bytes/{n} write: a multiple of 251 so that every chunk starts the pattern at 0.</summary>
    private const int PatternChunkLength = 251 * 64;

    private static readonly byte[] s_pattern = CreatePattern();

    public static IEndpointRouteBuilder MapSiteEndpoints(this IEndpointRouteBuilder endpoints, string version)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet("/", (HttpContext context) => Index(context, version));
        endpoints.MapGet("/hello", (HttpContext context) => Results.Text($"Hello from {version} over {context.Request.Protocol}\n"));
        endpoints.MapGet("/bytes/{n:long}", Bytes);
        endpoints.MapPost("/echo", Echo);
        endpoints.MapGet("/slow/{ms:int}", Slow);
        endpoints.MapGet("/rollover-probe", RolloverProbe);
        return endpoints;
    }

    private static IResult Index(HttpContext context, string version)
    {
        // nextHopProtocol is what the browser actually used for this navigation ("h3", "h2", "http/1.1"); the server's
        // view is printed next to it so a mismatch (e.g. a proxy) is visible.
        string html = $$"""
            <!doctype html>
            <html lang="en">
            <head><meta charset="utf-8"><title>AspNetQuicSteer sample {{WebUtility.HtmlEncode(version)}}</title></head>
            <body>
            <h1>AspNetQuicSteer sample site</h1>
            <p>Version: <span id="version">{{WebUtility.HtmlEncode(version)}}</span></p>
            <p>Protocol seen by the server: <span id="server-protocol">{{WebUtility.HtmlEncode(context.Request.Protocol)}}</span></p>
            <p>Protocol seen by the browser (navigation nextHopProtocol):</p>
            <pre id="protocol">unknown (script did not run)</pre>
            <script>
            const navigation = performance.getEntriesByType('navigation')[0];
            document.getElementById('protocol').textContent = navigation ? navigation.nextHopProtocol : 'unknown';
            </script>
            </body>
            </html>

            """;
        context.Response.Headers.CacheControl = "no-store";
        return Results.Content(html, "text/html; charset=utf-8");
    }

    private static IResult RolloverProbe(HttpContext context)
    {
        // A browser's view of a rollover: the script loads "/" again and again (paced by /slow/150, a wait on the
        // server rather than a busy loop in the browser) and lists, per load, the version the page shows, the
        // protocol the server saw and the one the browser used (resource timing nextHopProtocol), until it has seen
        // the version named by ?until= as often as ?count= asks (default 5) or ?seconds= (default 30) have passed.
        // Then it navigates a frame to "/" and copies what that page shows. The requests are synchronous on purpose:
        // the document's load event waits for them, so a headless `chromium --dump-dom` prints the finished list.
        const string html = """
            <!doctype html>
            <html lang="en">
            <head><meta charset="utf-8"><title>AspNetQuicSteer rollover probe</title></head>
            <body>
            <h1>Rollover probe</h1>
            <p>One line per load of /: index, ms since start, status, version, protocol seen by the server, protocol used by the browser.</p>
            <pre id="loads"></pre>
            <p>Outcome: <span id="outcome">unknown (script did not run)</span></p>
            <p>Final page: version <span id="final-version">none</span>, protocol <span id="final-protocol">none</span></p>
            <script>
            const query = new URLSearchParams(location.search);
            const until = query.get('until') ?? '';
            const wanted = Number(query.get('count') ?? '5');
            const limit = Number(query.get('seconds') ?? '30') * 1000;
            const started = Date.now();
            const lines = [];
            let seen = 0, failures = 0;
            performance.setResourceTimingBufferSize(100000);
            function get(url) {
              const request = new XMLHttpRequest();
              request.open('GET', url, false);
              request.send();
              return request;
            }
            for (let i = 0; seen < wanted && Date.now() - started < limit; i++) {
              const url = '/?probe=' + i;
              try {
                const response = get(url);
                const page = new DOMParser().parseFromString(response.responseText, 'text/html');
                const version = page.getElementById('version')?.textContent ?? '-';
                const serverProtocol = page.getElementById('server-protocol')?.textContent ?? '-';
                const timing = performance.getEntriesByName(new URL(url, location.href).href).pop();
                lines.push([i, Date.now() - started, response.status, version, serverProtocol, timing?.nextHopProtocol || '-'].join(' '));
                if (response.status !== 200) failures++;
                if (version === until) seen++;
              } catch (error) {
                failures++;
                lines.push([i, Date.now() - started, 'error', error.name].join(' '));
              }
              try {
                const pause = get('/slow/150');
                if (pause.status !== 200 || !pause.responseText.endsWith('done\n')) {
                  failures++;
                  lines.push([i, Date.now() - started, 'pause', pause.status].join(' '));
                }
              } catch (error) {
                failures++;
                lines.push([i, Date.now() - started, 'pause', error.name].join(' '));
              }
            }
            document.getElementById('loads').textContent = lines.join('\n');
            document.getElementById('outcome').textContent =
              'loads=' + lines.length + ' failures=' + failures + ' seen=' + seen + ' ms=' + (Date.now() - started);
            const frame = document.createElement('iframe');
            frame.onload = () => {
              const shown = frame.contentDocument;
              document.getElementById('final-version').textContent = shown?.getElementById('version')?.textContent ?? 'missing';
              document.getElementById('final-protocol').textContent = shown?.getElementById('protocol')?.textContent ?? 'missing';
            };
            frame.src = '/?final';
            document.body.appendChild(frame);
            </script>
            </body>
            </html>

            """;
        context.Response.Headers.CacheControl = "no-store";
        return Results.Content(html, "text/html; charset=utf-8");
    }

    private static async Task Bytes(HttpContext context, long n)
    {
        if (n is < 0 or > MaxBytes)
        {
            await WriteBadRequest(context, $"n must be between 0 and {MaxBytes}\n");
            return;
        }

        context.Response.ContentType = "application/octet-stream";
        context.Response.ContentLength = n;
        CancellationToken aborted = context.RequestAborted;
        for (long sent = 0; sent < n;)
        {
            int chunk = (int)Math.Min(PatternChunkLength, n - sent);
            await context.Response.Body.WriteAsync(s_pattern.AsMemory(0, chunk), aborted);
            sent += chunk;
        }
    }

    private static async Task Echo(HttpContext context)
    {
        context.Response.ContentType = context.Request.ContentType ?? "application/octet-stream";
        if (context.Request.ContentLength is { } length) context.Response.ContentLength = length;

        // Start the response before the body ends so a streaming client sees its bytes come back as it sends them.
        await context.Response.StartAsync(context.RequestAborted);
        await context.Request.Body.CopyToAsync(context.Response.Body, context.RequestAborted);
    }

    private static async Task Slow(HttpContext context, int ms)
    {
        if (ms is < 0 or > MaxSlowMilliseconds)
        {
            await WriteBadRequest(context, $"ms must be between 0 and {MaxSlowMilliseconds}\n");
            return;
        }

        context.Response.ContentType = "text/plain; charset=utf-8";
        CancellationToken aborted = context.RequestAborted;
        Stopwatch clock = Stopwatch.StartNew();
        for (int line = 0; ; line++)
        {
            long elapsed = clock.ElapsedMilliseconds;
            await WriteLine(context, string.Create(CultureInfo.InvariantCulture, $"{line} {elapsed} ms\n"), aborted);
            if (elapsed >= ms) break;
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(SlowLineIntervalMilliseconds, ms - elapsed)), aborted);
        }

        await WriteLine(context, "done\n", aborted);
    }

    private static async Task WriteLine(HttpContext context, string line, CancellationToken cancellationToken)
    {
        await context.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(line), cancellationToken);

        // Flush each line: the point of /slow is a response that arrives over time, not at the end.
        await context.Response.Body.FlushAsync(cancellationToken);
    }

    private static Task WriteBadRequest(HttpContext context, string message)
    {
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(message, context.RequestAborted);
    }

    private static byte[] CreatePattern()
    {
        byte[] pattern = new byte[PatternChunkLength];
        for (int i = 0; i < pattern.Length; i++) pattern[i] = (byte)(i % 251);
        return pattern;
    }
}
