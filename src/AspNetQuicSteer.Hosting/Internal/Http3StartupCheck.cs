using AspNetQuicSteer.Kestrel;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
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
    IServer server, QuicSteeringTransportFactory factory, IOptions<QuicSteeringOptions> options, ILogger<Http3StartupCheck> logger)
    : IHostedLifecycleService
{
    public Task StartedAsync(CancellationToken cancellationToken)
    {
        ICollection<string> addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var quicPorts = new HashSet<int>();
        foreach (var listener in factory.Listeners) quicPorts.Add(listener.BoundEndPoint.Port);

        foreach (string address in addresses)
        {
            if (!Uri.TryCreate(address, UriKind.Absolute, out Uri? uri)) continue;
            if (uri.Scheme == Uri.UriSchemeHttps && !quicPorts.Contains(uri.Port)) QuicSteeringHostingLog.HttpsWithoutHttp3(logger, address);
        }

        if (quicPorts.Count == 0 && options.Value.RequireHttp3)
        {
            throw new InvalidOperationException(
                $"UseQuicSteering(): no endpoint serves HTTP/3 (bound: {string.Join(", ", addresses)}). HTTP/3 needs an HTTPS " +
                "endpoint (ListenOptions.UseHttps() or an https:// URL with a certificate) whose Protocols include Http3 " +
                "and a fixed port: Kestrel skips HTTP/3 silently for port 0 with several protocols. Set " +
                "QuicSteering:RequireHttp3=false to run without HTTP/3.");
        }

        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
