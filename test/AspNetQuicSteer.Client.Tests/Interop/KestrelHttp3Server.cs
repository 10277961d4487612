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

namespace AspNetQuicSteer.Client.Tests.Interop;

/// <summary>Kestrel with UseQuicSteering(), HTTP/3 only on a port the OS picks, with /bytes/{n} and /slow/{ms}.</summary>
internal sealed class KestrelHttp3Server : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly TestCertificate _certificate;
    private readonly TempDirectory _temp;

    private KestrelHttp3Server(WebApplication app, TestCertificate certificate, TempDirectory temp, string baseUrl)
    {
        _app = app;
        _certificate = certificate;
        _temp = temp;
        BaseUrl = baseUrl;
    }

    public string BaseUrl { get; }

    public string CaPath => _temp.Combine("cert.pem");

    public static async Task<KestrelHttp3Server> StartAsync(Action<WebApplication>? map = null)
    {
        var temp = new TempDirectory();
        TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        certificate.WriteFiles(temp.Path);
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseQuicSteering();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen =>
        {
            listen.Protocols = HttpProtocols.Http3;
            listen.UseHttps(certificate.Certificate);
        }));
        WebApplication app = builder.Build();
        app.MapGet("/bytes/{n:int}", async (HttpContext context, int n) =>
        {
            context.Response.ContentLength = n;
            byte[] body = new byte[n];
            for (int i = 0; i < n; i++) body[i] = (byte)(i % 251);
            await context.Response.Body.WriteAsync(body, context.RequestAborted);
        });
        app.MapGet("/slow/{ms:int}", async (HttpContext context, int ms) =>
        {
            await Task.Delay(ms, context.RequestAborted);
            await context.Response.WriteAsync("done", context.RequestAborted);
        });
        map?.Invoke(app);
        await app.StartAsync(TestContext.Current.CancellationToken);
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new KestrelHttp3Server(app, certificate, temp, address.TrimEnd('/'));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
        _certificate.Dispose();
        _temp.Dispose();
    }
}
