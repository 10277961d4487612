using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using AspNetQuicSteer.Kestrel.Internal;
using AspNetQuicSteer.Quic.Tests.Interop;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AspNetQuicSteer.Kestrel.Tests.Interop;

/// <summary>One request as the application saw it.</summary>
internal readonly record struct ObservedRequest(string Protocol, string Method, string Path, int StatusCode);

/// <summary>A log entry at Warning or above, captured from the in-process server.</summary>
internal readonly record struct CapturedLog(LogLevel Level, string Category, EventId EventId, string Message, Exception? Exception)
{
    public override string ToString() => $"{Level} {Category}[{EventId.Id}/{EventId.Name}] {Message} {Exception}";
}

/// <summary>
/// The sample site's endpoints (/hello, /bytes/{n}, POST /echo) plus an HTML page at / that reports its
/// navigation's nextHopProtocol, served in-process by Kestrel with <c>UseQuicSteering()</c> on one loopback port
/// for TCP (h1/h2) and UDP (h3). Records every request (protocol, path, status), the transport's metrics
/// (meter <see cref="QuicSteeringMetrics.MeterName"/> of this app only) and warnings/errors from its logs.
/// </summary>
internal sealed class InteropTestServer : IAsyncDisposable
{
    /// <summary>The page Chromium loads: an inline script writes the navigation's nextHopProtocol into the DOM.</summary>
    public const string ProtocolPage = """
        <!doctype html>
        <html><head><meta charset="utf-8"><title>quicsteer</title></head>
        <body><p id="proto">pending</p>
        <script>
        const nav = performance.getEntriesByType('navigation')[0];
        document.getElementById('proto').textContent = 'nextHopProtocol=' + (nav ? nav.nextHopProtocol : 'none');
        </script></body></html>
        """;

    private readonly WebApplication _app;
    private readonly MeterListener _meterListener;
    private readonly ConcurrentQueue<ObservedRequest> _requests;
    private readonly ConcurrentQueue<CapturedLog> _logs;
    private readonly ConcurrentDictionary<string, long> _counters;

    private InteropTestServer(WebApplication app, int port, MeterListener meterListener, ConcurrentQueue<ObservedRequest> requests,
        ConcurrentQueue<CapturedLog> logs, ConcurrentDictionary<string, long> counters)
    {
        _app = app;
        Port = port;
        _meterListener = meterListener;
        _requests = requests;
        _logs = logs;
        _counters = counters;
    }

    public int Port { get; }

    /// <summary>"127.0.0.1:PORT".</summary>
    public string Authority => FormattableString.Invariant($"127.0.0.1:{Port}");

    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    public string Url(string path) => $"https://{Authority}{path}";

    /// <summary>Requests the application has completed, in completion order.</summary>
    public IReadOnlyList<ObservedRequest> Requests => [.. _requests];

    /// <summary>Warning/Error/Critical log entries of the server (Kestrel, hosting and our transport).</summary>
    public IReadOnlyList<CapturedLog> Problems => [.. _logs];

    /// <summary>
    /// The current value of one of the transport's counters (e.g. "quicsteer.handshakes"); for
    /// "quicsteer.streams" pass the tags as "quicsteer.streams|bidirectional|client".
    /// </summary>
    public long Counter(string name)
    {
        _meterListener.RecordObservableInstruments();
        return _counters.TryGetValue(name, out long value) ? value : 0;
    }

    /// <summary>Everything the server recorded, for assertion messages.</summary>
    public string Describe()
    {
        _meterListener.RecordObservableInstruments();
        IEnumerable<string> counters = _counters.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key}={c.Value}");
        IEnumerable<string> byProtocol = _requests.GroupBy(r => $"{r.Protocol} {r.Method} {r.Path} {r.StatusCode}")
            .Select(g => $"{g.Key} x{g.Count()}").Take(20);
        return $"[server {Authority}] counters: {string.Join(", ", counters)}\n  requests: {string.Join("; ", byProtocol)}\n  problems:\n    "
            + string.Join("\n    ", _logs.Take(20)) + "\n";
    }

    /// <summary>Starts the server on a loopback port free for both TCP and UDP (retrying when a race takes it).</summary>
    public static async Task<InteropTestServer> StartAsync(TestCertificate certificate, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        for (int attempt = 1; ; attempt++)
        {
            int port = GetTcpAndUdpFreePort();
            try
            {
                return await StartOnPortAsync(certificate, port, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (attempt < 5 && IsAddressInUse(ex))
            {
                // Another process took the port between the probe and the bind; try another one.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        using CancellationTokenSource stop = new(TimeSpan.FromSeconds(15));
        try
        {
            await _app.StopAsync(stop.Token).ConfigureAwait(false);
        }
        finally
        {
            await _app.DisposeAsync().ConfigureAwait(false);
            _meterListener.Dispose();
        }
    }

    private static async Task<InteropTestServer> StartOnPortAsync(TestCertificate certificate, int port, CancellationToken cancellationToken)
    {
        ConcurrentQueue<ObservedRequest> requests = new();
        ConcurrentQueue<CapturedLog> logs = new();
        ConcurrentDictionary<string, long> counters = new(StringComparer.Ordinal);

        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            EnvironmentName = "Production",
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddProvider(new CapturingLoggerProvider(logs));
        builder.WebHost.UseQuicSteering();
        builder.WebHost.ConfigureKestrel(kestrel =>
            kestrel.Listen(IPAddress.Loopback, port, listen =>
            {
                listen.Protocols = HttpProtocols.Http1AndHttp2AndHttp3;
                listen.UseHttps(certificate.Certificate);
            }));

        WebApplication app = builder.Build();
        app.Use(async (context, next) =>
        {
            try
            {
                await next(context).ConfigureAwait(false);
            }
            finally
            {
                requests.Enqueue(new ObservedRequest(context.Request.Protocol, context.Request.Method, context.Request.Path.Value ?? "",
                    context.Response.StatusCode));
            }
        });
        MapSampleEndpoints(app);

        MeterListener listener = CreateMeterListener(app.Services.GetRequiredService<IMeterFactory>(), counters);
        try
        {
            using CancellationTokenSource start = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            start.CancelAfter(TimeSpan.FromSeconds(30));
            await app.StartAsync(start.Token).ConfigureAwait(false);
        }
        catch
        {
            listener.Dispose();
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return new InteropTestServer(app, port, listener, requests, logs, counters);
    }

    /// <summary>The same endpoints as samples/SampleSite (kept in step by hand), and the protocol page at /.</summary>
    private static void MapSampleEndpoints(WebApplication app)
    {
        app.MapGet("/", (HttpContext c) => Results.Content(ProtocolPage, "text/html; charset=utf-8"));
        app.MapGet("/hello", (HttpContext c) => $"Hello from interop over {c.Request.Protocol}\n");
        app.MapGet("/bytes/{n:long}", async (HttpContext c, long n) =>
        {
            c.Response.ContentType = "application/octet-stream";
            c.Response.ContentLength = n;
            byte[] buffer = SampleBytes.Create(251 * 64);
            long sent = 0;
            while (sent < n)
            {
                int chunk = (int)Math.Min(buffer.Length, n - sent);
                await c.Response.Body.WriteAsync(buffer.AsMemory(0, chunk), c.RequestAborted).ConfigureAwait(false);
                sent += chunk;
            }
        });
        app.MapPost("/echo", async (HttpContext c) =>
        {
            c.Response.ContentType = "application/octet-stream";
            await c.Request.Body.CopyToAsync(c.Response.Body, c.RequestAborted).ConfigureAwait(false);
        });
    }

    private static MeterListener CreateMeterListener(IMeterFactory meterFactory, ConcurrentDictionary<string, long> counters)
    {
        MeterListener listener = new()
        {
            InstrumentPublished = (instrument, l) =>
            {
                // Only this app's meter: other servers in the same test process have their own factory (the meter's scope).
                if (instrument.Meter.Name == QuicSteeringMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, meterFactory))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string key = instrument.Name;
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                key += "|" + tag.Value;
            }

            if (instrument.IsObservable)
            {
                counters[key] = value; // observable counters report totals
            }
            else
            {
                counters.AddOrUpdate(key, value, (_, old) => old + value);
            }
        });
        listener.Start();
        return listener;
    }

    private static bool IsAddressInUse(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is AddressInUseException || e is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse })
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A loopback port that is free for TCP and for UDP at the time of the call.</summary>
    private static int GetTcpAndUdpFreePort()
    {
        for (int attempt = 0; attempt < 50; attempt++)
        {
            using Socket tcp = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            tcp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            int port = ((IPEndPoint)tcp.LocalEndPoint!).Port;
            using Socket udp = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                udp.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException)
            {
                // UDP side taken; try another port.
            }
        }

        throw new InvalidOperationException("No loopback port free for both TCP and UDP after 50 attempts.");
    }

    private sealed class CapturingLoggerProvider(ConcurrentQueue<CapturedLog> sink) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new CapturingLogger(categoryName, sink);

        public void Dispose()
        {
        }
    }

    private sealed class CapturingLogger(string category, ConcurrentQueue<CapturedLog> sink) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                sink.Enqueue(new CapturedLog(logLevel, category, eventId, formatter(state, exception), exception));
            }
        }
    }
}

/// <summary>The sample site's /bytes/{n} content: byte i is (byte)(i % 251).</summary>
internal static class SampleBytes
{
    public static byte[] Create(long length)
    {
        byte[] bytes = new byte[length];
        for (int i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)(i % 251);
        }

        return bytes;
    }

    /// <summary>The index of the first byte of <paramref name="path"/> that differs from the pattern, or -1.</summary>
    public static long FirstMismatch(string path)
    {
        using FileStream file = File.OpenRead(path);
        byte[] buffer = new byte[251 * 256];
        long offset = 0;
        int read;
        while ((read = file.Read(buffer, 0, buffer.Length)) > 0)
        {
            for (int i = 0; i < read; i++)
            {
                if (buffer[i] != (byte)((offset + i) % 251))
                {
                    return offset + i;
                }
            }

            offset += read;
        }

        return -1;
    }
}
