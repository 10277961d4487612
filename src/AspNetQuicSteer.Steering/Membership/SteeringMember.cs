using System.Net;
using System.Net.Sockets;
using AspNetQuicSteer.Quic.Endpoint.Stateless;
using AspNetQuicSteer.Sockets;
using AspNetQuicSteer.Steering.ConnectionIds;
using AspNetQuicSteer.Steering.Coordination;
using AspNetQuicSteer.Steering.Forwarding;
using AspNetQuicSteer.Steering.Kernel.Ebpf;
using AspNetQuicSteer.Steering.Routing;

namespace AspNetQuicSteer.Steering.Membership;

/// <summary>
/// One process's place in its UDP port's generation group: everything a QUIC listener needs to share the port
/// (ARCHITECTURE.md §4–6). <see cref="JoinAsync"/>, under the port's join lock:
/// <list type="number">
/// <item>connects to (or hosts) the port's coordinator and reads the group from its status;</item>
/// <item>adopts the port's <see cref="PortGroupDescription"/> (dataplane, CID layout, stateless secret) from any live
/// generation over its share socket, or establishes it as the first generation;</item>
/// <item>binds the UDP socket: SO_REUSEPORT into the group (kernel modes) or a handed-over copy of the one socket
/// (forwarding mode), then joins, so the coordinator's order is the reuseport group's socket order;</item>
/// <item>opens its forwarding endpoint and share socket.</item>
/// </list>
/// Afterwards it follows the coordinator's broadcasts: it rebuilds the <see cref="SteeringTable"/> the forwarding
/// divert and the stateless-reset guard read, and, while it is the active generation, programs the kernel
/// (classic BPF rebuilt on every membership change; eBPF by one map update).
/// </summary>
internal sealed partial class SteeringMember : IAsyncDisposable
{
    private readonly SteeringMemberOptions _options;
    private readonly string _controlPath;
    private readonly string _directory;
    private readonly ForwardingEndpoint _forwarding;
    private readonly EbpfReuseportDataplane? _ebpf;
    private readonly CancellationTokenSource _stopping = new();
    private CoordinatorMembership _membership;
    private PortGroupShare? _share;
    private Task? _eventLoop;
    private Task? _reportLoop;
    private Task? _inboxLoop;
    private QuicEndpointDriver? _driver;
    private int _disposed;

    private SteeringMember(
        SteeringMemberOptions options, string controlPath, CoordinatorMembership membership, GenerationId generation, IPEndPoint sharedEndPoint,
        PortGroupDescription description, Socket socket, ForwardingEndpoint forwarding, EbpfReuseportDataplane? ebpf, SteeringTable table)
    {
        _options = options;
        _controlPath = controlPath;
        _directory = Path.GetDirectoryName(controlPath)!;
        _membership = membership;
        Generation = generation;
        SharedEndPoint = sharedEndPoint;
        Description = description;
        Socket = socket;
        _forwarding = forwarding;
        _ebpf = ebpf;
        ConnectionIds = new SteeringConnectionIdGenerator(description.ConnectionIdOptions(generation));
        ConnectionIds.IsOtherLiveGeneration = IsOtherLiveGeneration;
        Keys = new StatelessKeyRing(description.MasterSecret);
        Divert = new ForwardingDivert(generation, table, forwarding, sharedEndPoint);
    }

    public GenerationId Generation { get; }

    public IPEndPoint SharedEndPoint { get; }

    /// <summary>The port's dataplane, CID layout and secret (adopted or established).</summary>
    public PortGroupDescription Description { get; }

    public SteeringDataplaneMode Mode => Description.Mode;

    /// <summary>The UDP socket on the shared port; the listener owns it from here (wraps it, disposes it).</summary>
    public Socket Socket { get; }

    /// <summary>This generation's CIDs; refuses to stateless-reset CIDs of other live generations (invariant 1).</summary>
    public SteeringConnectionIdGenerator ConnectionIds { get; }

    /// <summary>Stateless-reset and token keys, identical in every generation of the port.</summary>
    public StatelessKeyRing Keys { get; }

    /// <summary>The driver's divert hook: routes each received datagram and forwards what another generation owns.</summary>
    public ForwardingDivert Divert { get; }

    /// <summary>The current routing snapshot.</summary>
    public SteeringTable Table => Divert.Table;

    /// <summary>This app's <c>cibir_encoding</c> (its CIBIR ID's length at offset 0), or null for the port's default app.</summary>
    public CibirEncoding? Cibir => _options.CibirId.Length == 0 ? null : new CibirEncoding(_options.CibirId.Length, 0);

    /// <summary>Whether this generation belongs to the port's default app (no CIBIR ID): its active generation steers the kernel.</summary>
    public bool IsDefaultApp => _options.CibirId.Length == 0;

    /// <summary>This generation's state as the coordinator last announced it.</summary>
    public GenerationState State { get; private set; } = GenerationState.Joining;

    /// <summary>Raised (on a thread-pool thread) after every change of <see cref="State"/> or of the table.</summary>
    public event Action<SteeringMember>? Changed;

    /// <summary>Datagrams other generations forwarded here that the driver processed.</summary>
    public long ForwardedIn => _driver?.DatagramsInjected ?? 0;

    public static async Task<SteeringMember> JoinAsync(IPEndPoint endPoint, SteeringMemberOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        ArgumentNullException.ThrowIfNull(options);
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("Port steering needs Linux (SO_REUSEPORT programs, SCM_RIGHTS, SO_PEERCRED).");
        if (endPoint.Port == 0) throw new ArgumentException("A shared port must be fixed: generations cannot find each other on port 0.", nameof(endPoint));
        if (options.Layout is { QuicLb.HasKey: true })
        {
            throw new NotSupportedException(
                "Encrypted QUIC-LB layouts hide the generation from the kernel programs and the forwarding router; a shared port needs the plaintext layout (masked by default).");
        }

        string controlPath = ControlSocketPath.For(endPoint, options.ControlDirectory);
        string directory = Path.GetDirectoryName(controlPath)!;
        ControlSocketPath.EnsureDirectory(directory, CoordinatorInterop.EffectiveUid, strict: options.ControlDirectory is null);
        using SafeLockHandle joinLock = await AcquireJoinLockAsync(directory, controlPath + ".join", options.JoinLockTimeout, cancellationToken).ConfigureAwait(false);

        CoordinatorMembership membership = await ConnectCoordinatorAsync(endPoint, controlPath, options, cancellationToken).ConfigureAwait(false);
        Socket? socket = null;
        ForwardingEndpoint? forwarding = null;
        EbpfReuseportDataplane? ebpf = null;
        int socketMapFd = -1, activeMapFd = -1;
        try
        {
            StatusMessage status = await membership.Client.GetStatusAsync(cancellationToken).ConfigureAwait(false);
            (PortGroupDescription? adopted, Socket? handedOver, socketMapFd, activeMapFd, GenerationStatus? source) =
                await FetchFromGroupAsync(directory, endPoint, status, cancellationToken).ConfigureAwait(false);
            PortGroupDescription description = Resolve(options, adopted, source);

            socket = description.Mode == SteeringDataplaneMode.Forwarding
                ? handedOver ?? BindExclusive(endPoint, options)
                : BindIntoGroup(endPoint, options, status.Generations.Where(g => g.State.IsLive()).Select(g => g.Pid));
            if (description.Mode != SteeringDataplaneMode.Forwarding) handedOver?.Dispose();

            JoinAcceptedMessage accepted;
            try
            {
                accepted = await membership.Client.JoinAsync(
                    new JoinMessage(Environment.ProcessId, options.RequestedGeneration, options.AppName, options.CibirId, Capabilities(description.Mode)), cancellationToken).ConfigureAwait(false);
            }
            catch (CoordinatorRequestException e) when (e.ErrorCode is CoordinatorErrorCode.PortConflict or CoordinatorErrorCode.GenerationInUse)
            {
                throw new PortSharingException($"UDP {endPoint} cannot be shared ({e.ErrorCode}): {e.Message}", e);
            }

            GenerationId generation = accepted.Generation;

            if (description.Mode == SteeringDataplaneMode.ReuseportEbpf)
            {
                var field = SteeringConnectionIdGenerator.PlaintextLayoutField(description.QuicLb, description.MaskGeneration);
                if (socketMapFd >= 0)
                {
                    ebpf = EbpfReuseportDataplane.Adopt(field, description.ConnectionIdLength, socketMapFd, activeMapFd);
                    socketMapFd = activeMapFd = -1;
                    ebpf.SetGeneration(generation, socket);
                }
                else
                {
                    ebpf = EbpfReuseportDataplane.Create(field, description.ConnectionIdLength, generation);
                    ebpf.SetGeneration(generation, socket);
                    ebpf.AttachTo(socket);
                }
            }

            var shared = new IPEndPoint(endPoint.Address, endPoint.Port);
            forwarding = new ForwardingEndpoint(directory, shared, generation);
            SteeringTable table = BuildTable(description, generation, options.CibirId, status, accepted.ActiveGeneration);
            var member = new SteeringMember(options, controlPath, membership, generation, shared, description, socket, forwarding, ebpf, table);
            member._share = PortGroupShare.Start(directory, shared, generation, member.ShareSnapshot);
            member.Log($"gen{generation.Value} joined {shared} in {description.Mode.ToDisplayName()} mode"
                + (source is { } s ? $" (adopted from gen{s.Generation.Value}, pid {s.Pid})" : " (first generation on the port)"));
            return member;
        }
        catch
        {
            ebpf?.Dispose();
            if (socketMapFd >= 0) AspNetQuicSteer.Sockets.Interop.LinuxSocketInterop.Close(socketMapFd);
            if (activeMapFd >= 0) AspNetQuicSteer.Sockets.Interop.LinuxSocketInterop.Close(activeMapFd);
            forwarding?.Dispose();
            socket?.Dispose();
            await membership.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Starts following the coordinator with <paramref name="driver"/> serving <see cref="Socket"/>: forwarded
    /// datagrams are injected into it, counters are reported, and the kernel is programmed while this generation is
    /// active. Call once the driver runs.
    /// </summary>
    public void Start(QuicEndpointDriver driver)
    {
        ArgumentNullException.ThrowIfNull(driver);
        if (Interlocked.CompareExchange(ref _driver, driver, null) is not null) throw new InvalidOperationException("The member is already started.");
        _inboxLoop = _forwarding.RunReceiveLoopAsync(new byte[ForwardedDatagram.MaxPayloadLength],
            (in ForwardedDatagramHeader header, ReadOnlySpan<byte> payload) => driver.Inject(header.GetRemoteEndPoint(), payload), _stopping.Token);
        _eventLoop = Task.Run(() => FollowCoordinatorAsync(_stopping.Token));
        _reportLoop = Task.Run(() => ReportLoopAsync(_stopping.Token));
    }

    public Task ReadyAsync(CancellationToken cancellationToken) => _membership.Client.ReadyAsync(cancellationToken);

    public Task ActivateAsync(CancellationToken cancellationToken) => _membership.Client.ActivateAsync(cancellationToken);

    public Task DrainAsync(CancellationToken cancellationToken) => _membership.Client.DrainAsync(cancellationToken);

    public Task<StatusMessage> GetStatusAsync(CancellationToken cancellationToken) => _membership.Client.GetStatusAsync(cancellationToken);

    /// <summary>This generation's counters as reported to the coordinator.</summary>
    public GenerationCounters Counters
    {
        get
        {
            RouteStatistics statistics = Divert.Statistics;
            long forwardedOut = Divert.Forwarded;
            long failed = Divert.ForwardFailed;
            long kept = statistics.Routed - forwardedOut - failed;
            return new GenerationCounters(1, (ulong)Math.Max(0, kept + ForwardedIn), (ulong)forwardedOut, (ulong)(statistics.Dropped + failed));
        }
    }

    /// <summary>
    /// Leaves the group: reports Exited with the final counters (after the listener closed the socket, so the
    /// coordinator's socket order matches the kernel's), closes the forwarding and share sockets, and ends the
    /// coordinator connection (if this process hosted it, another member takes over).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (Task? loop in new[] { _eventLoop, _reportLoop, _inboxLoop })
        {
            if (loop is not null) await loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _share?.Dispose();
        if (_ebpf is not null)
        {
            // The group keeps its program while other generations live; the last one out detaches it.
            _ebpf.DetachOnDispose = _ebpf.DetachOnDispose && !Table.LiveGenerations.Any(g => g.Generation != Generation);
            _ebpf.RemoveGeneration(Generation);
            _ebpf.Dispose();
        }

        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await _membership.Client.ExitedAsync(Counters, "listener closed", timeout.Token).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // the coordinator may be gone (it then sees the connection drop: Dead, same effect for routing)
        catch (Exception e)
#pragma warning restore CA1031
        {
            Log($"gen{Generation.Value}: could not report Exited ({e.GetType().Name}: {e.Message})");
        }

        await _membership.DisposeAsync().ConfigureAwait(false);
        _forwarding.Dispose();
        ConnectionIds.Dispose();
        _stopping.Dispose();
    }

    private bool IsOtherLiveGeneration(GenerationId generation) => generation != Generation && Divert.Table.IsLive(generation);

    private PortGroupShare.Contents ShareSnapshot() => new(
        Description,
        Mode == SteeringDataplaneMode.Forwarding ? Socket : null,
        SharedTcpListeners.Find(SharedEndPoint),
        _ebpf?.SocketMapFd ?? -1,
        _ebpf?.ActiveMapFd ?? -1);

    private void Log(string message) => _options.Log?.Invoke(message);

    private static CoordinatorCapabilities Capabilities(SteeringDataplaneMode mode) => CoordinatorCapabilities.Forwarding | mode switch
    {
        SteeringDataplaneMode.ReuseportCbpf => CoordinatorCapabilities.ReuseportCbpf,
        SteeringDataplaneMode.ReuseportEbpf => CoordinatorCapabilities.ReuseportEbpf,
        _ => CoordinatorCapabilities.SocketHandoff,
    };
}
