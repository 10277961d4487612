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
