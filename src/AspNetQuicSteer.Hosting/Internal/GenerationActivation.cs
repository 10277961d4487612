using AspNetQuicSteer.Kestrel;
using Microsoft.Extensions.Hosting;

namespace AspNetQuicSteer.Hosting.Internal;

/// <summary>
/// A new generation takes over its shared port's new connections only once the application has started (every
/// hosted service ran and Kestrel serves), not as soon as the UDP socket is bound: until then the previous
/// generation keeps serving (ARCHITECTURE.md invariant 2). A failure fails startup.
/// </summary>
internal sealed class GenerationActivation(QuicSteeringTransportFactory factory) : IHostedLifecycleService
{
    public Task StartedAsync(CancellationToken cancellationToken) => factory.ActivateGenerationsAsync(cancellationToken);

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
