using System.Net.Sockets;

namespace AspNetQuicSteer.Steering.Coordination;

/// <summary>A process's place in its port's group: the coordinator it hosts (the first process on the port) and its client connection.</summary>
internal sealed class CoordinatorMembership(GenerationCoordinatorServer? hostedServer, GenerationCoordinatorClient client) : IAsyncDisposable
{
    /// <summary>Non-null when this process hosts the coordinator.</summary>
    public GenerationCoordinatorServer? HostedServer { get; } = hostedServer;

    public GenerationCoordinatorClient Client { get; } = client;

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync().ConfigureAwait(false);
        if (HostedServer is not null) await HostedServer.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>Entry point for a process joining a port's generation group.</summary>
internal static class GenerationCoordinator
{
    /// <summary>
    /// Hosts the coordinator of <paramref name="path"/> if nobody does (see <see cref="GenerationCoordinatorServer.TryStart"/>),
    /// and connects a client to it either way. While another process holds the host lock but is not listening yet
    /// (or has just died and its socket file is stale), connect fails with ENOENT or ECONNREFUSED; this retries,
    /// re-running the election, until <see cref="GenerationCoordinatorOptions.ConnectTimeout"/>.
    /// The same call is the takeover path when the host exits: the members see <see cref="GenerationCoordinatorClient.Closed"/>,
    /// call this again, and re-join with <see cref="JoinMessage.ResumeState"/>.
    /// </summary>
    public static async Task<CoordinatorMembership> ConnectOrHostAsync(string path, GenerationCoordinatorOptions? options, CancellationToken cancellationToken)
    {
        options ??= new GenerationCoordinatorOptions();
        long started = options.TimeProvider.GetTimestamp();
        while (true)
        {
            if (GenerationCoordinatorServer.TryStart(path, options, out GenerationCoordinatorServer? server))
            {
                try
                {
                    return new CoordinatorMembership(server, await GenerationCoordinatorClient.ConnectAsync(path, cancellationToken).ConfigureAwait(false));
                }
                catch
                {
                    await server.DisposeAsync().ConfigureAwait(false);
                    throw;
                }
            }

            try
            {
                return new CoordinatorMembership(null, await GenerationCoordinatorClient.ConnectAsync(path, cancellationToken).ConfigureAwait(false));
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable
                                            && options.TimeProvider.GetElapsedTime(started) < options.ConnectTimeout)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), options.TimeProvider, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
