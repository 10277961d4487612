using AspNetQuicSteer.Kestrel;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AspNetQuicSteer.Hosting.Internal;

/// <summary>
/// After Kestrel bound its endpoints, makes the silent "HTTP/3 not enabled" outcomes loud (KESTREL.md §3): with
/// <see cref="QuicSteeringOptions.RequireHttp3"/> startup fails when no endpoint got a QUIC listener; an HTTPS address
/// without one is logged as a warning either way.
/// </summary>
internal sealed class Http3StartupCheck(
    IServer server, QuicSteeringTransportFactory factory, Http3EndpointRegistry registry, IOptions<QuicSteeringOptions> options, ILogger<Http3StartupCheck> logger)
    : IHostedLifecycleService
{
    public Task StartedAsync(CancellationToken cancellationToken)
    {
        ICollection<string> addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var quicPorts = new HashSet<int>();
        foreach (var listener in factory.Listeners) quicPorts.Add(listener.BoundEndPoint.Port);

        // Endpoints that asked for HTTP/3 but got no QUIC listener: Kestrel skipped them (port 0 with several protocols,
        // or no HTTPS) with at most a log line, and still advertises Alt-Svc h3 on the dynamic-port ones (KESTREL.md §3).
        var skipped = new List<string>();
        foreach (ListenOptions endpoint in registry.Snapshot())
        {
            if ((endpoint.Protocols & HttpProtocols.Http3) == 0) continue;
            int port = endpoint.IPEndPoint?.Port ?? -1;
            if (port < 0) continue; // not an IP endpoint (Unix socket, named pipe): QUIC never applies
            if (port == 0 && endpoint.Protocols != HttpProtocols.Http3)
            {
                skipped.Add($"{endpoint} (port 0 with several protocols: a dynamic port cannot be shared by TCP and UDP)");
            }
            else if (port != 0 && !quicPorts.Contains(port))
            {
                skipped.Add($"{endpoint} (no HTTPS: HTTP/3 requires TLS, RFC 9114 §3.1)");
            }
        }

        foreach (string address in addresses)
        {
            if (!Uri.TryCreate(address, UriKind.Absolute, out Uri? uri)) continue;
            if (uri.Scheme == Uri.UriSchemeHttps && !quicPorts.Contains(uri.Port)) QuicSteeringHostingLog.HttpsWithoutHttp3(logger, address);
        }

        if (options.Value.RequireHttp3 && (quicPorts.Count == 0 || skipped.Count > 0))
        {
            string which = quicPorts.Count == 0
                ? $"no endpoint serves HTTP/3 (bound: {string.Join(", ", addresses)})"
                : $"HTTP/3 was skipped for {string.Join("; ", skipped)}";
            throw new InvalidOperationException(
                $"UseQuicSteering(): {which}. " + (skipped.Count > 0 && quicPorts.Count == 0 ? $"Skipped: {string.Join("; ", skipped)}. " : string.Empty) +
                "HTTP/3 needs an HTTPS endpoint (ListenOptions.UseHttps() or an https:// URL with a certificate) whose " +
                "Protocols include Http3 and a fixed port: Kestrel skips HTTP/3 silently for port 0 with several protocols. " +
                "Set QuicSteering:RequireHttp3=false to run without HTTP/3.");
        }

        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
