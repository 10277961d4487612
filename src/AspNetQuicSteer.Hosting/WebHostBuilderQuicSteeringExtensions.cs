using AspNetQuicSteer.Hosting;
using AspNetQuicSteer.Hosting.Internal;
using AspNetQuicSteer.Kestrel;
using AspNetQuicSteer.Kestrel.Internal;
using AspNetQuicSteer.Steering.Membership;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Microsoft.AspNetCore.Hosting;

/// <summary>Adds HTTP/3 on AspNetQuicSteer's managed QUIC transport to a web host.</summary>
public static class WebHostBuilderQuicSteeringExtensions
{
    /// <summary>
    /// Serves HTTP/3 through AspNetQuicSteer's QUIC transport (no native libmsquic needed). HTTPS endpoints whose
    /// protocols include HTTP/3 (Kestrel's default) get a UDP listener on the same port. Options come from the
    /// <c>QuicSteering</c> configuration section, then <paramref name="configure"/>. Works with
    /// <c>WebApplication.CreateBuilder</c> and <c>CreateSlimBuilder</c>.
    /// </summary>
    public static IWebHostBuilder UseQuicSteering(this IWebHostBuilder builder, Action<QuicSteeringOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);

        // CreateSlimBuilder calls only UseKestrelCore; Kestrel binds HTTP/3 only with its HTTPS configuration service.
        builder.UseKestrelHttpsConfiguration();

        builder.ConfigureServices((context, services) =>
        {
            OptionsBuilder<QuicSteeringOptions> options = services.AddOptions<QuicSteeringOptions>()
                .Bind(context.Configuration.GetSection(QuicSteeringOptions.SectionName));
            if (configure is not null) options.Configure(configure);
            string applicationName = context.HostingEnvironment.ApplicationName;
            options.PostConfigure(o =>
            {
                // Generations of one app share its port; the name tells apps apart (port-sharing matrix).
                o.Transport.ApplicationName ??= applicationName;
                o.Transport.ActivateWhenBound = false; // GenerationActivation activates once the app has started
            });

            services.TryAddSingleton<IOptions<QuicSteeringTransportOptions>>(
                static sp => Options.Create(sp.GetRequiredService<IOptions<QuicSteeringOptions>>().Value.Transport));
            services.TryAddSingleton<QuicSteeringMetrics>();
            services.TryAddSingleton<Http3EndpointRegistry>();
            services.TryAddSingleton<GenerationDrainState>();
            services.TryAddSingleton<QuicSteeringLifecycleMetrics>();
            services.AddTransient<Microsoft.AspNetCore.Hosting.IStartupFilter, QuicSteeringDrainStartupFilter>();

            // Kestrel 10's endpoint default is Http1AndHttp2 (ListenOptions.DefaultHttpProtocols): without this, --urls and
            // Kestrel:Endpoints entries would get no HTTP/3 although the app asked for it. An endpoint's own Protocols
            // (code or configuration) still wins; a later ConfigureEndpointDefaults replaces this one (and its records).
            // The connection middleware tracks HTTP/1.1 and HTTP/2 connections, which a draining generation asks to close.
            services.AddOptions<KestrelServerOptions>().Configure<Http3EndpointRegistry, GenerationDrainState>(static (kestrel, registry, drain) =>
                kestrel.ConfigureEndpointDefaults(endpoint =>
                {
                    endpoint.Protocols = HttpProtocols.Http1AndHttp2AndHttp3;
                    registry.Add(endpoint);
                    endpoint.Use(next => connection => drain.TrackAsync(connection, next));
                }));
            AddTransportFactory(services);

            // Kestrel's TCP listener (HTTP/1.1, HTTP/2) on a shared port is handed over between generations too.
            services.AddOptions<SocketTransportOptions>().Configure<IOptions<QuicSteeringOptions>, ILoggerFactory>(static (sockets, steering, loggers) =>
            {
                QuicSteeringTransportOptions transport = steering.Value.Transport;
                if (transport.Dataplane == QuicSteeringDataplane.Disabled) return;
                Func<EndPoint, Socket> bindFresh = sockets.CreateBoundListenSocket;
                string? directory = transport.SteeringDirectory;
                ILogger logger = loggers.CreateLogger("AspNetQuicSteer.Hosting");
                sockets.CreateBoundListenSocket = endPoint => endPoint is IPEndPoint ip && ip.Port != 0 && OperatingSystem.IsLinux()
                    ? SharedTcpListeners.Acquire(ip, directory, bindFresh, message => QuicSteeringHostingLog.TcpListenerShared(logger, message))
                    : bindFresh(endPoint);
            });
            services.AddHostedService<Http3StartupCheck>();
            services.AddHostedService<GenerationActivation>();
        });
        return builder;
    }

    /// <summary>
    /// Registers our factory last, after removing Kestrel's built-in QUIC factory (which needs libmsquic): Kestrel
    /// tries factories last-registered first (KESTREL.md §3). Idempotent.
    /// </summary>
    internal static void AddTransportFactory(IServiceCollection services)
    {
        for (int i = services.Count - 1; i >= 0; i--)
        {
            ServiceDescriptor descriptor = services[i];
            if (descriptor.ServiceType != typeof(IMultiplexedConnectionListenerFactory)) continue;
            if (descriptor.ImplementationType?.FullName == BuiltInQuicFactoryName || descriptor.ImplementationFactory == s_resolveFactory)
            {
                services.RemoveAt(i);
            }
        }

        services.TryAddSingleton<QuicSteeringTransportFactory>();
        services.AddSingleton(typeof(IMultiplexedConnectionListenerFactory), s_resolveFactory);
    }

    /// <summary>One delegate instance, so a repeated registration is recognised (delegate equality) and replaced.</summary>
    private static readonly Func<IServiceProvider, object> s_resolveFactory = static sp => sp.GetRequiredService<QuicSteeringTransportFactory>();

    private const string BuiltInQuicFactoryName = "Microsoft.AspNetCore.Server.Kestrel.Transport.Quic.QuicTransportFactory";
}
