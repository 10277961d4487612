using AspNetQuicSteer.Quic.Tests.Interop;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AspNetQuicSteer.Kestrel.Tests.Hosting;

/// <summary>
/// The real samples/SampleSite (its Program.Main) on real Kestrel through <see cref="QuicSteeringWebApplicationFactory{TEntryPoint}"/>,
/// labelled <see cref="Version"/>, with its development-certificate folder in a temp directory, and a probe that records
/// what the app saw of each /slow request.
/// </summary>
internal sealed class SampleSiteFactory : QuicSteeringWebApplicationFactory<Program>
{
    public const string Version = "waf-test";

    private readonly TempDirectory _certificateDirectory = new("quicsteer-site-cert-");

    /// <summary>Warnings and errors the site logged.</summary>
    public LogCapture Logs { get; } = new();

    /// <summary>What the app observed of /slow requests.</summary>
    public SlowRequestProbe Probe { get; } = new();

    /// <summary>Host shutdown bound; tests assert stops finish well inside it, so a hang shows as a failure, not a stall.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Extra services for one test (e.g. a startup filter adding middleware).</summary>
    public Action<IServiceCollection>? ConfigureTestServices { get; init; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);

        // Host settings reach the app's builder.Configuration before Program reads them (WAF passes them as arguments).
        builder.UseSetting("APP_VERSION", Version);
        builder.UseSetting("SampleSite:CertificateDirectory", _certificateDirectory.Path);
        builder.ConfigureLogging(logging =>
        {
            logging.AddProvider(Logs);
            logging.AddFilter<LogCapture>("AspNetQuicSteer", LogLevel.Debug);
            logging.AddFilter<LogCapture>("Microsoft.AspNetCore.Server.Kestrel", LogLevel.Debug);
        });
        builder.ConfigureServices(services =>
        {
            services.AddSingleton(Probe);
            services.AddSingleton<IStartupFilter, SlowRequestProbeStartupFilter>();
            services.Configure<HostOptions>(o => o.ShutdownTimeout = ShutdownTimeout);
            ConfigureTestServices?.Invoke(services);
        });
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        _certificateDirectory.Dispose();
    }
}

/// <summary>Events of the app's /slow requests, as the app itself saw them.</summary>
internal sealed class SlowRequestProbe
{
    private readonly TaskCompletionSource<string> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _aborted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes with the request's protocol when the first /slow request reaches the app.</summary>
    public Task<string> Started => _started.Task;

    /// <summary>Completes when a /slow request's HttpContext.RequestAborted fired.</summary>
    public Task Aborted => _aborted.Task;

    /// <summary>Completes when a /slow request's handler returned normally.</summary>
    public Task Completed => _completed.Task;

    public void OnStarted(string protocol) => _started.TrySetResult(protocol);

    public void OnAborted() => _aborted.TrySetResult();

    public void OnCompleted() => _completed.TrySetResult();
}

/// <summary>Wraps the app's pipeline (before its endpoints) to record RequestAborted and completion of /slow requests.</summary>
internal sealed class SlowRequestProbeStartupFilter(SlowRequestProbe probe) : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(async (HttpContext context, RequestDelegate nextMiddleware) =>
        {
            if (!context.Request.Path.StartsWithSegments("/slow"))
            {
                await nextMiddleware(context);
                return;
            }

            probe.OnStarted(context.Request.Protocol);
            using CancellationTokenRegistration registration = context.RequestAborted.Register(probe.OnAborted);
            await nextMiddleware(context);
            if (!context.RequestAborted.IsCancellationRequested) probe.OnCompleted();
        });
        next(app);
    };
}
