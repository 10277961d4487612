using System.Net;
using System.Net.Sockets;
using AspNetQuicSteer.Sockets;
using AspNetQuicSteer.Steering.Coordination;
using AspNetQuicSteer.Steering.Forwarding;

namespace AspNetQuicSteer.Steering.Membership;

/// <summary>
/// Each live generation serves its port's <see cref="PortGroupDescription"/> and descriptors on a Unix stream socket
/// next to its forwarding socket (<c>…genN.share</c>, in the 0700 coordinator directory). A joining generation
/// connects to any live one, gets one SCM_RIGHTS message and closes. Serving from every member (not from the
/// coordinator host) means the group's shared state survives any one process, host included. The server checks
/// SO_PEERCRED: only the same uid gets the secret and the sockets (ARCHITECTURE.md invariant 5).
/// </summary>
internal sealed class PortGroupShare : IDisposable
{
    /// <summary>What one generation hands a joiner; descriptors absent as null / -1.</summary>
    internal readonly record struct Contents(PortGroupDescription Description, Socket? UdpSocket, Socket? TcpListener, int SocketMapFd, int ActiveMapFd);

    private readonly Socket _listener;
    private readonly Func<Contents> _snapshot;
    private readonly uint _uid;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;

    private PortGroupShare(Socket listener, string path, Func<Contents> snapshot)
    {
        _listener = listener;
        Path = path;
        _snapshot = snapshot;
        _uid = CoordinatorInterop.EffectiveUid;
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public string Path { get; }

    /// <summary>Joiners served.</summary>
    public int Served { get; private set; }

    /// <summary>Connections refused because the peer runs as another uid.</summary>
    public int Refused { get; private set; }

    public static string GetPath(string directory, IPEndPoint sharedEndPoint, GenerationId generation) =>
        System.IO.Path.ChangeExtension(ForwardingEndpoint.GetPath(directory, sharedEndPoint, generation), ".share");

    /// <summary>
    /// Listens at <paramref name="generation"/>'s share path. <paramref name="snapshot"/> is asked per joiner for the
    /// current description and descriptors (socket map and active map fds are -1 outside eBPF mode).
    /// </summary>
    public static PortGroupShare Start(string directory, IPEndPoint sharedEndPoint, GenerationId generation, Func<Contents> snapshot)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("The port-group share socket needs Linux (SCM_RIGHTS, SO_PEERCRED).");
        string path = GetPath(directory, sharedEndPoint, generation);
        File.Delete(path); // a previous process of this generation ID left it (IDs are reused once a generation exits)
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            listener.Listen(16);
            return new PortGroupShare(listener, path, snapshot);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Fetches the description and descriptors from the generation serving <paramref name="path"/>. The caller owns
    /// the returned descriptors (UDP socket, map fds; -1 when absent).
    /// </summary>
    public static async Task<Contents> FetchAsync(string path, CancellationToken cancellationToken)
    {
        using var channel = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await channel.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
        await channel.ReceiveAsync(Memory<byte>.Empty, SocketFlags.Peek, cancellationToken).ConfigureAwait(false);
        (byte[] bytes, int[] fds) = SocketHandoff.ReceiveDescriptors(channel);
        try
        {
            PortGroupDescription description = PortGroupDescription.Parse(bytes, out bool hasUdp, out bool hasMaps, out bool hasTcp);
            int expected = (hasUdp ? 1 : 0) + (hasTcp ? 1 : 0) + (hasMaps ? 2 : 0);
            if (fds.Length != expected) throw new PortGroupShareException($"the share sent {fds.Length} descriptors; its description announces {expected}");
            int at = 0;
            Socket? udp = hasUdp ? new Socket(new SafeSocketHandle(fds[at++], ownsHandle: true)) : null;
            Socket? tcp = hasTcp ? new Socket(new SafeSocketHandle(fds[at++], ownsHandle: true)) : null;
            int socketMap = hasMaps ? fds[at++] : -1;
            int activeMap = hasMaps ? fds[at] : -1;
            return new Contents(description, udp, tcp, socketMap, activeMap);
        }
        catch
        {
            foreach (int fd in fds) AspNetQuicSteer.Sockets.Interop.LinuxSocketInterop.Close(fd);
            throw;
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket peer;
            try
            {
                peer = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            using (peer)
            {
                try
                {
                    if (CoordinatorInterop.GetPeerCredentials(peer).Uid != _uid)
                    {
                        Refused++;
                        continue;
                    }

                    (PortGroupDescription description, Socket? udp, Socket? tcp, int socketMap, int activeMap) = _snapshot();
                    bool hasMaps = socketMap >= 0 && activeMap >= 0;
                    int count = (udp is null ? 0 : 1) + (tcp is null ? 0 : 1) + (hasMaps ? 2 : 0);
                    int[] fds = new int[count];
                    int at = 0;
                    if (udp is not null) fds[at++] = (int)udp.Handle;
                    if (tcp is not null) fds[at++] = (int)tcp.Handle;
                    if (hasMaps)
                    {
                        fds[at++] = socketMap;
                        fds[at] = activeMap;
                    }

                    SocketHandoff.SendDescriptors(peer, description.Write(udp is not null, hasMaps, tcp is not null), fds);
                    GC.KeepAlive(udp);
                    GC.KeepAlive(tcp);
                    Served++;
                }
#pragma warning disable CA1031 // one joiner's broken connection must not stop serving the next
                catch (Exception)
#pragma warning restore CA1031
                {
                }
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
        try
        {
            _acceptLoop.Wait(TimeSpan.FromSeconds(2));
        }
        catch (AggregateException)
        {
        }

        _stop.Dispose();
        try
        {
            File.Delete(Path);
        }
        catch (IOException)
        {
        }
    }
}
