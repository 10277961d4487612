using System.Net;
using System.Net.Sockets;
using AspNetQuicSteer.Steering.Coordination;

namespace AspNetQuicSteer.Steering.Membership;

/// <summary>
/// Kestrel's TCP listener (HTTP/1.1, HTTP/2) on a shared port, handed from generation to generation like the UDP
/// socket (ARCHITECTURE.md §6 "socket handoff"): a new generation adopts a live generation's listening socket over
/// its share socket (SCM_RIGHTS) instead of binding the port again, which would fail with EADDRINUSE. Both
/// processes then hold one listening socket: both accept from its one queue while they overlap, and the socket
/// (with connections still queued) lives on when the old generation closes its descriptor, so no connection
/// attempt is refused during a rollover. Without SO_REUSEPORT on TCP there is also no per-socket queue that a
/// closing generation would drop (socket(7): a closed reuseport listener's pending connections are reset).
/// </summary>
internal static class SharedTcpListeners
{
    private static readonly Lock s_lock = new();
    private static readonly List<(IPEndPoint EndPoint, Socket Socket)> s_listeners = [];

    /// <summary>
    /// The listening socket for <paramref name="endPoint"/>: a live generation's of the port when there is one
    /// (adopted), else <paramref name="bindFresh"/>'s. Either way it is registered, so this process hands it on.
    /// </summary>
    public static Socket Acquire(IPEndPoint endPoint, string? controlDirectory, Func<EndPoint, Socket> bindFresh, Action<string>? log)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        ArgumentNullException.ThrowIfNull(bindFresh);
        Socket? adopted = endPoint.Port != 0 && OperatingSystem.IsLinux()
            ? Task.Run(() => TryAdoptAsync(endPoint, controlDirectory, log)).GetAwaiter().GetResult()
            : null;
        Socket socket = adopted ?? bindFresh(endPoint);
        lock (s_lock)
        {
            s_listeners.RemoveAll(entry => entry.Socket.SafeHandle.IsClosed);
            s_listeners.Add((endPoint, socket));
        }

        return socket;
    }

    /// <summary>This process's open TCP listener on the UDP endpoint's address and port, to hand to a joiner.</summary>
    public static Socket? Find(IPEndPoint udpEndPoint)
    {
        lock (s_lock)
        {
            foreach ((IPEndPoint endPoint, Socket socket) in s_listeners)
            {
                if (endPoint.Port == udpEndPoint.Port && endPoint.Address.Equals(udpEndPoint.Address) && !socket.SafeHandle.IsClosed) return socket;
            }
        }

        return null;
    }

    private static async Task<Socket?> TryAdoptAsync(IPEndPoint endPoint, string? controlDirectory, Action<string>? log)
    {
        string controlPath = ControlSocketPath.For(endPoint, controlDirectory);
        if (!File.Exists(controlPath)) return null;
        string directory = Path.GetDirectoryName(controlPath)!;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            StatusMessage status;
            await using (GenerationCoordinatorClient client = await GenerationCoordinatorClient.ConnectAsync(controlPath, timeout.Token).ConfigureAwait(false))
            {
                status = await client.GetStatusAsync(timeout.Token).ConfigureAwait(false);
            }

            foreach (GenerationStatus live in status.Generations.Where(g => g.State.IsLive()).OrderByDescending(g => g.Generation == status.ActiveGeneration))
            {
                PortGroupShare.Contents contents;
                try
                {
                    contents = await PortGroupShare.FetchAsync(PortGroupShare.GetPath(directory, endPoint, live.Generation), timeout.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is SocketException or IOException)
                {
                    continue;
                }

                contents.UdpSocket?.Dispose();
                if (contents.SocketMapFd >= 0) AspNetQuicSteer.Sockets.Interop.LinuxSocketInterop.Close(contents.SocketMapFd);
                if (contents.ActiveMapFd >= 0) AspNetQuicSteer.Sockets.Interop.LinuxSocketInterop.Close(contents.ActiveMapFd);
                if (contents.TcpListener is { } listener)
                {
                    log?.Invoke($"TCP listener on {endPoint} adopted from gen{live.Generation.Value} (pid {live.Pid})");
                    return listener;
                }
            }
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or CoordinatorRequestException or UnauthorizedAccessException)
        {
            // No group to adopt from (stale socket file, another user's, or none answering): bind as usual, and let
            // the kernel report a port that is really taken.
            log?.Invoke($"no TCP listener to adopt on {endPoint} ({e.GetType().Name}: {e.Message}); binding a new one");
        }

        return null;
    }
}
