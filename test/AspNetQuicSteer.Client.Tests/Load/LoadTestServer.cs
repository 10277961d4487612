using System.Net;
using AspNetQuicSteer.Quic.Tests.Interop;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AspNetQuicSteer.Client.Tests.Load;

/// <summary>
/// A real Kestrel server on 127.0.0.1 (a free TCP port chosen by the OS), HTTPS with a self-signed certificate,
/// HTTP/1.1 and HTTP/2. Endpoints like the sample site's: /bytes/{n} (byte i = i % 251), POST /echo, plus /fail
/// (aborts), /status/{code}, /slow/{ms} and /corrupt/bytes/{n} (one byte wrong). Every response carries
/// x-app-version, alternately v1 and v2.
/// </summary>
public sealed class LoadTestServer : IAsyncLifetime
{
    private readonly TestCertificate _certificate = TestCertificates.CreateEcdsaP256();
    private WebApplication? _app;
    private long _requests;
    private long _connections;

    /// <summary>https://127.0.0.1:port (no trailing slash).</summary>
    public string BaseUrl { get; private set; } = string.Empty;

    /// <summary>TCP connections accepted so far.</summary>
    public long Connections => Interlocked.Read(ref _connections);

    /// <summary>The server certificate as PEM (for --ca).</summary>
    public string CertificatePem => _certificate.CertificatePem;

    public async ValueTask InitializeAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
        {
            listen.Protocols = HttpProtocols.Http1AndHttp2;
            listen.Use(next => connection =>
            {
                Interlocked.Increment(ref _connections);
                return next(connection);
            });
            listen.UseHttps(_certificate.Certificate);
        }));

        WebApplication app = builder.Build();
        app.Use((context, next) =>
        {
            context.Response.Headers["x-app-version"] = Interlocked.Increment(ref _requests) % 2 == 0 ? "v2" : "v1";
            return next(context);
        });
        app.MapGet("/bytes/{n:long}", (HttpContext context, long n) => WritePattern(context, n, corruptAt: -1));
        app.MapGet("/corrupt/bytes/{n:long}", (HttpContext context, long n) => WritePattern(context, n, corruptAt: n / 2));
        app.MapPost("/echo", async context =>
        {
            if (context.Request.ContentLength is { } length)
            {
                context.Response.ContentLength = length;
            }

            await context.Response.StartAsync(context.RequestAborted);
            await context.Request.Body.CopyToAsync(context.Response.Body, context.RequestAborted);
        });
        app.MapGet("/fail", context =>
        {
            context.Abort();
            return Task.CompletedTask;
        });
        app.MapGet("/status/{code:int}", (HttpContext context, int code) =>
        {
            context.Response.StatusCode = code;
            return Task.CompletedTask;
        });
        app.MapGet("/slow/{ms:int}", async (HttpContext context, int ms) =>
        {
            await Task.Delay(ms, context.RequestAborted);
            await context.Response.WriteAsync("done", context.RequestAborted);
        });

        await app.StartAsync(TestContext.Current.CancellationToken);
        _app = app;
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseUrl = address.TrimEnd('/');
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync(CancellationToken.None);
            await _app.DisposeAsync();
        }

        _certificate.Dispose();
    }

    private static async Task WritePattern(HttpContext context, long n, long corruptAt)
    {
        context.Response.ContentType = "application/octet-stream";
        context.Response.ContentLength = n;
        byte[] chunk = new byte[251 * 64];
        for (long sent = 0; sent < n;)
        {
            int length = (int)Math.Min(chunk.Length, n - sent);
            for (int i = 0; i < length; i++)
            {
                chunk[i] = (byte)((sent + i) % 251);
                if (sent + i == corruptAt)
                {
                    chunk[i] ^= 0xff;
                }
            }

            await context.Response.Body.WriteAsync(chunk.AsMemory(0, length), context.RequestAborted);
            sent += length;
        }
    }
}
