using System.Net;
using System.Text.Json;
using AspNetQuicSteer.Steering.Coordination;

namespace AspNetQuicSteer.LoadTool;

/// <summary>
/// <c>quicsteer-load status &lt;address:port&gt; [--steering-dir DIR] [--json]</c>: the generation table of a shared
/// UDP port, read from its coordinator (same user only, SO_PEERCRED): generations in socket order, their state, pid,
/// time in state, and the packets each routed (processed itself), forwarded and dropped.
/// </summary>
internal static class StatusCommand
{
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        string? target = null, directory = null;
        bool json = false;
        for (int i = 1; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--steering-dir" when i + 1 < args.Length:
                    directory = args[++i];
                    break;
                case "--json":
                    json = true;
                    break;
                default:
                    if (target is null && !args[i].StartsWith('-')) target = args[i];
                    else
                    {
                        await error.WriteLineAsync($"quicsteer-load status: unexpected argument '{args[i]}'.").ConfigureAwait(false);
                        return 2;
                    }

                    break;
            }
        }

        if (target is null || !IPEndPoint.TryParse(target, out IPEndPoint? endPoint) || endPoint.Port == 0)
        {
            await error.WriteLineAsync("usage: quicsteer-load status <address:port> [--steering-dir DIR] [--json]").ConfigureAwait(false);
            return 2;
        }

        string path = ControlSocketPath.For(endPoint, directory);
        StatusMessage status;
        try
        {
            await using GenerationCoordinatorClient client = await GenerationCoordinatorClient.ConnectAsync(path, CancellationToken.None).ConfigureAwait(false);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            status = await client.GetStatusAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or CoordinatorRequestException or OperationCanceledException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync($"quicsteer-load status: no coordinator answered at {path}: {e.Message}").ConfigureAwait(false);
            return 1;
        }

        if (json)
        {
            var rows = status.Generations.Select(g => new
            {
                generation = (int)g.Generation.Value,
                state = g.State.ToString(),
                pid = g.Pid,
                secondsInState = (status.Now - g.Since).TotalSeconds,
                app = g.AppName,
                sockets = (int)g.Counters.Sockets,
                routed = g.Counters.Routed,
                forwarded = g.Counters.Forwarded,
                dropped = g.Counters.Dropped,
            });
            await output.WriteLineAsync(JsonSerializer.Serialize(new { endPoint = endPoint.ToString(), active = (int?)status.ActiveGeneration?.Value, generations = rows })).ConfigureAwait(false);
            return 0;
        }

        await output.WriteLineAsync($"{endPoint} (live generations first, in socket order)").ConfigureAwait(false);
        await output.WriteAsync(status.FormatTable()).ConfigureAwait(false);
        return 0;
    }
}
