using System.Net;
using System.Net.Sockets;
using AspNetQuicSteer.Sockets;
using AspNetQuicSteer.Steering.ConnectionIds;
using AspNetQuicSteer.Steering.Coordination;
using AspNetQuicSteer.Steering.Kernel.Ebpf;
using AspNetQuicSteer.Steering.Routing;

namespace AspNetQuicSteer.Steering.Membership;

internal sealed partial class SteeringMember
{
    /// <summary>
    /// Serializes bind + join per port across processes (flock on <c>&lt;control&gt;.join.lock</c>), so the order in
    /// which sockets enter the reuseport group is the order in which the coordinator sees the joins.
    /// </summary>
    private static async Task<SafeLockHandle> AcquireJoinLockAsync(string directory, string lockPath, TimeSpan timeout, CancellationToken cancellationToken)
    {
        long started = Environment.TickCount64;
        while (true)
        {
            SafeLockHandle? handle;
            try
            {
                handle = CoordinatorInterop.TryLockExclusive(lockPath + ".lock");
            }
            catch (IOException e) when (CoordinatorInterop.TryStat(directory) is { } stat && stat.Uid != CoordinatorInterop.EffectiveUid)
            {
                // An operator-chosen directory is not checked for ownership (ControlSocketPath.EnsureDirectory); another
                // user's 0700 directory shows up here, as EACCES on the lock file.
                throw new PortSharingException(
                    $"The steering directory {directory} belongs to uid {stat.Uid}; this process runs as uid {CoordinatorInterop.EffectiveUid} and cannot use it ({e.Message}). " +
                    OneUserPerPort, e);
            }

            if (handle is not null) return handle;
            if (Environment.TickCount64 - started > timeout.TotalMilliseconds)
            {
                throw new PortSharingException($"Another process has held the join lock {lockPath}.lock for over {timeout.TotalSeconds:0} s; it may be stuck while joining the port.");
            }

            await Task.Delay(20, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The port's group runs as one user: the kernel puts only sockets of one effective uid into a reuseport group
    /// (socket(7) SO_REUSEPORT), and the coordinator and share sockets admit only their own uid (SO_PEERCRED,
    /// ARCHITECTURE.md invariant 5).
    /// </summary>
    private const string OneUserPerPort =
        "Every generation of a port runs as one user (SO_REUSEPORT groups only sockets of one effective uid, socket(7); the coordinator admits only its own uid): " +
        "run this process as that user, or give it another port.";

    /// <summary>Connects to (or hosts) the port's coordinator; one of another user is refused with the cause and the fix.</summary>
    private static async Task<CoordinatorMembership> ConnectCoordinatorAsync(
        IPEndPoint endPoint, string controlPath, SteeringMemberOptions options, CancellationToken cancellationToken)
    {
        try
        {
            return await GenerationCoordinator.ConnectOrHostAsync(controlPath, options.Coordinator, cancellationToken).ConfigureAwait(false);
        }
        catch (CoordinatorRequestException e) when (e.ErrorCode == CoordinatorErrorCode.PermissionDenied)
        {
            throw new PortSharingException($"UDP {endPoint}: the port's generation group runs as another user: {e.Message}. {OneUserPerPort}", e);
        }
    }

    /// <summary>Asks the live generations (the active one first) for the port's description and descriptors.</summary>
    private static async Task<(PortGroupDescription?, Socket?, int, int, GenerationStatus?)> FetchFromGroupAsync(
        string directory, IPEndPoint endPoint, StatusMessage status, CancellationToken cancellationToken)
    {
        List<GenerationStatus> live = [.. status.Generations.Where(g => g.State.IsLive()).OrderByDescending(g => g.Generation == status.ActiveGeneration)];
        if (live.Count == 0) return (null, null, -1, -1, null);

        var failures = new List<string>();
        foreach (GenerationStatus candidate in live)
        {
            string path = PortGroupShare.GetPath(directory, endPoint, candidate.Generation);
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(2));
                var (description, udp, tcp, socketMap, activeMap) = await PortGroupShare.FetchAsync(path, timeout.Token).ConfigureAwait(false);
                tcp?.Dispose(); // the TCP listener is adopted by the socket transport (SharedTcpListeners), not here
                return (description, udp, socketMap, activeMap, candidate);
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
            {
                failures.Add($"gen{candidate.Generation.Value} (pid {candidate.Pid}, app '{candidate.AppName}'): {e.Message}");
            }
        }

        throw new PortSharingException(
            $"{endPoint} has live generations, but none handed over the port's settings: {string.Join("; ", failures)}.");
    }

    /// <summary>The port's settings: adopted ones must agree with what this process asked for; else this process establishes them.</summary>
    private static PortGroupDescription Resolve(SteeringMemberOptions options, PortGroupDescription? adopted, GenerationStatus? source)
    {
        if (adopted is not null)
        {
            string owner = source is { } s ? $"gen{s.Generation.Value} (pid {s.Pid}, app '{s.AppName}')" : "the group";
            if (options.Mode != SteeringDataplaneMode.Automatic && options.Mode != adopted.Mode)
            {
                throw new PortSharingException(
                    $"The port runs the {adopted.Mode.ToDisplayName()} dataplane ({owner}); this process asked for {options.Mode.ToDisplayName()}. " +
                    "Every generation on a port uses one dataplane: configure the same one, or Automatic to adopt it.");
            }

            if (options.Layout is { } layout && !layout.HasSameLayoutAs(adopted))
            {
                throw new PortSharingException(
                    $"This process's connection-ID layout differs from the port's ({owner}): every generation on a port must issue CIDs of one length with the generation at one offset (RFC 9000 §17.3.1: short headers do not carry the CID length).");
            }

            return adopted;
        }

        SteeringDataplaneMode mode = options.Mode == SteeringDataplaneMode.Automatic ? PickAutomatically() : options.Mode;
        PortGroupDescription established = options.Layout ?? SteeringMemberOptions.CreateDefaultLayout(mode);
        return established with { Mode = mode };
    }

    /// <summary>eBPF when this process may load it (root or CAP_BPF: probed by creating the maps), else classic BPF (ARCHITECTURE.md invariant 4).</summary>
    private static SteeringDataplaneMode PickAutomatically()
    {
        try
        {
            using var probe = EbpfReuseportDataplane.Create(new SteeringField(4, 5), 12, new GenerationId(1));
            return SteeringDataplaneMode.ReuseportEbpf;
        }
        catch (Exception e) when (e is BpfException or PlatformNotSupportedException)
        {
            return SteeringDataplaneMode.ReuseportCbpf;
        }
    }

    private static Socket BindIntoGroup(IPEndPoint endPoint, SteeringMemberOptions options, IEnumerable<int> memberPids)
    {
        Socket socket;
        try
        {
            socket = UdpSocketFactory.Bind(endPoint, options.ReceiveBufferSize, options.SendBufferSize, reusePort: true);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new PortSharingException(
                $"UDP {endPoint} is held by a socket outside the generation group: a process that bound it without SO_REUSEPORT, " +
                $"or a process of another user (the kernel groups only sockets of one effective uid, socket(7) SO_REUSEPORT). " +
                $"'ss -uapn sport = :{endPoint.Port}' names it.", e);
        }

        try
        {
            UdpPortTable.ThrowIfForeignSockets(endPoint, socket, memberPids);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static Socket BindExclusive(IPEndPoint endPoint, SteeringMemberOptions options)
    {
        try
        {
            return UdpSocketFactory.Bind(endPoint, options.ReceiveBufferSize, options.SendBufferSize);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            // Forwarding mode binds the port once, without SO_REUSEPORT, and hands that socket to every later
            // generation (SCM_RIGHTS), so any socket already on the port belongs to no generation.
            throw new PortSharingException(
                $"UDP {endPoint} is held by a socket outside the generation group: a process that is not a generation of this port, " +
                $"or a process of another user (forwarding mode binds the port once and hands that socket to every later generation). " +
                $"'ss -uapn sport = :{endPoint.Port}' names it.", e);
        }
    }

    /// <summary>
    /// The routing snapshot from a status view: live generations in socket order (their index is the classic-BPF
    /// target); the default app's active generation, or this one while none is active (a lone generation serves its
    /// own new connections); one CIBIR rule per CIBIR app with an active generation (draft-banks-quic-cibir-01 §2.2).
    /// </summary>
    private static SteeringTable BuildTable(PortGroupDescription description, GenerationId self, byte[] ownCibirId, StatusMessage status, GenerationId? active)
    {
        var live = new List<LiveGeneration>();
        var rules = new List<CibirRule>();
        foreach (GenerationStatus row in status.Generations)
        {
            if (!row.State.IsLive()) continue;
            live.Add(new LiveGeneration(row.Generation, new DataplaneTarget(live.Count)));
            if (row.State == GenerationState.Active && row.CibirId.Length > 0) rules.Add(new CibirRule(row.CibirId.Span, 0, row.Generation));
        }

        if (!live.Exists(g => g.Generation == self)) live.Add(new LiveGeneration(self, new DataplaneTarget(live.Count)));
        GenerationId? defaultActive = (status.ActiveGeneration ?? active) is { } a && live.Exists(g => g.Generation == a) ? a
            : ownCibirId.Length == 0 ? self
            : null;
        SteeringField field = SteeringConnectionIdGenerator.PlaintextLayoutField(description.QuicLb, description.MaskGeneration);
        // A handshake that spans an activation: the kernel sends the client's Handshake packets (long headers) to the
        // newly active generation, which must pass them on to the generation that started the handshake; their DCID
        // is always server-chosen (RFC 9000 §7.2, §17.2.4), so it names the owner. Without this the handshake stalls.
        return new SteeringTable(field, description.ConnectionIdLength, live, defaultActive, rules, routeHandshakeToOwner: true);
    }
}

/// <summary>A port that cannot be shared as asked: the message names the cause and the fix (port-sharing matrix).</summary>
internal sealed class PortSharingException : IOException
{
    public PortSharingException()
    {
    }

    public PortSharingException(string message) : base(message)
    {
    }

    public PortSharingException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
