using System.Net.Sockets;

namespace AspNetQuicSteer.Steering.Kernel.Ebpf;

/// <summary>
/// The reuseport-ebpf dataplane of one UDP port: the socket map (generation → socket), the active-generation map and
/// the SK_REUSEPORT program (<see cref="ReuseportEbpfProgram"/>), attached to the port's reuseport group. Membership
/// and rollover are map updates — <see cref="SetGeneration"/>, <see cref="RemoveGeneration"/>, <see cref="SetActive"/>
/// — never a program reload, and the kernel's socket order (which the classic program depends on) does not matter.
/// <para>Requires root or CAP_BPF + CAP_NET_ADMIN to create (bpf(2)); attaching and map updates need the fds only.
/// The process that owns this object must hold an fd of every socket it registers (BPF_MAP_UPDATE_ELEM takes a socket
/// fd of the caller's fd table): across processes, pass sockets with SCM_RIGHTS, or pin the maps in bpffs.</para>
/// <para>Thread-safety: map updates are atomic in the kernel and may race with packets; the methods of this object
/// are not meant to be called concurrently with <see cref="Dispose"/>.</para>
/// </summary>
internal sealed class EbpfReuseportDataplane : IDisposable
{
    private readonly BpfFileDescriptor _socketMap;
    private readonly BpfFileDescriptor _activeMap;
    private readonly BpfFileDescriptor? _program;
    private readonly Dictionary<GenerationId, Socket> _registered = [];
    private Socket? _attachedThrough;
    private bool _disposed;

    private EbpfReuseportDataplane(
        SteeringField field, int shortHeaderCidLength, BpfFileDescriptor socketMap, BpfFileDescriptor activeMap, BpfFileDescriptor? program)
    {
        Field = field;
        ShortHeaderCidLength = shortHeaderCidLength;
        _socketMap = socketMap;
        _activeMap = activeMap;
        _program = program;
    }

    public SteeringField Field { get; }

    /// <summary>
    /// Whether <see cref="Dispose"/> detaches the program from the group. True for the dataplane that created the
    /// program; a generation that leaves while others stay sets it false, so the group keeps its steering (the
    /// program and maps live on while any process holds a map fd or the program stays attached).
    /// </summary>
    public bool DetachOnDispose { get; set; } = true;

    /// <summary>The socket map's fd, for passing to another generation (SCM_RIGHTS); valid while this is not disposed.</summary>
    public int SocketMapFd => _socketMap.Fd;

    /// <summary>The active map's fd, for passing to another generation; valid while this is not disposed.</summary>
    public int ActiveMapFd => _activeMap.Fd;

    /// <summary>
    /// A dataplane over maps another generation created and attached (received with SCM_RIGHTS): this process
    /// registers its own socket and flips the active generation through them, without a program of its own.
    /// Takes ownership of both descriptors.
    /// </summary>
    public static unsafe EbpfReuseportDataplane Adopt(SteeringField field, int shortHeaderCidLength, int socketMapFd, int activeMapFd)
    {
        ReuseportEbpfProgram.ValidateField(field, shortHeaderCidLength);
        var socketMap = new BpfFileDescriptor(socketMapFd);
        var activeMap = new BpfFileDescriptor(activeMapFd);
        uint value = 0;
        BpfSyscall.LookupElement(activeMap, 0, &value);
        return new EbpfReuseportDataplane(field, shortHeaderCidLength, socketMap, activeMap, program: null)
        {
            Active = new GenerationId((byte)value),
            DetachOnDispose = false,
        };
    }

    public int ShortHeaderCidLength { get; }

    /// <summary>The generation long headers, unknown generations and truncated datagrams go to.</summary>
    public GenerationId Active { get; private set; }

    /// <summary>
    /// Creates both maps, writes <paramref name="active"/> into the active map, and loads the program. Nothing is
    /// attached yet: register the sockets, then <see cref="AttachTo"/> a member of the group.
    /// </summary>
    /// <exception cref="BpfException">EPERM without root or CAP_BPF; other refusals with their meaning and verifier log.</exception>
    /// <exception cref="PlatformNotSupportedException">Not Linux, or an architecture without a known bpf(2) number.</exception>
    public static unsafe EbpfReuseportDataplane Create(SteeringField field, int shortHeaderCidLength, GenerationId active)
    {
        ReuseportEbpfProgram.ValidateField(field, shortHeaderCidLength);
        BpfFileDescriptor? socketMap = null, activeMap = null;
        try
        {
            // key u32 generation, value u64 (socket fd on update, socket cookie on lookup; reuseport_array_alloc_check
            // accepts a u32 or u64 value, and only u64 can be looked up from user space).
            socketMap = BpfSyscall.CreateMap(BpfSyscall.BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, sizeof(uint), sizeof(ulong),
                ReuseportEbpfProgram.SocketMapEntries, "quicsteer_socks");
            activeMap = BpfSyscall.CreateMap(BpfSyscall.BPF_MAP_TYPE_ARRAY, sizeof(uint), sizeof(uint), 1, "quicsteer_activ");
            uint value = active.Value;
            BpfSyscall.UpdateElement(activeMap, 0, &value, BpfSyscall.BPF_ANY);
            var program = ReuseportEbpfProgram.Load(field, shortHeaderCidLength, socketMap, activeMap);
            return new EbpfReuseportDataplane(field, shortHeaderCidLength, socketMap, activeMap, program) { Active = active };
        }
        catch
        {
            activeMap?.Dispose();
            socketMap?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// SO_ATTACH_REUSEPORT_EBPF through <paramref name="member"/>: the program now steers the whole group (it replaces
    /// any classic or eBPF program; sockets that join later inherit it; it stays when <paramref name="member"/> closes).
    /// </summary>
    /// <exception cref="BpfException">EINVAL: <paramref name="member"/> was not bound with SO_REUSEPORT.</exception>
    public void AttachTo(Socket member)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_program is null) throw new InvalidOperationException("This dataplane adopted another generation's maps; that generation attached the program.");
        BpfSyscall.AttachReuseportProgram(member, _program);
        _attachedThrough = member;
    }

    /// <summary>
    /// Puts <paramref name="socket"/> into <paramref name="generation"/>'s slot (replacing the previous socket there).
    /// The socket must be bound with SO_REUSEPORT to the group's address (else the program's select fails with
    /// EBADFD at run time and the datagram goes to the active generation) and can be in one slot only: moving it to
    /// another generation's slot needs <see cref="RemoveGeneration"/> first (the kernel says EBUSY). Registering it
    /// again in the slot it already occupies is a no-op (the kernel would say EBUSY there too). The kernel empties
    /// the slot by itself when the socket closes (bpf_sk_reuseport_detach).
    /// </summary>
    /// <exception cref="BpfException">EINVAL: not bound with SO_REUSEPORT; EBUSY: in another slot; ENOTSUPP: not UDP/TCP.</exception>
    public unsafe void SetGeneration(GenerationId generation, Socket socket)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(socket);
        var handle = socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            ulong fd = (ulong)(long)handle.DangerousGetHandle();
            BpfSyscall.UpdateElement(_socketMap, generation.Value, &fd, BpfSyscall.BPF_ANY);
        }
        catch (BpfException error) when (error.Errno == BpfException.EBUSY && Holds(generation, socket))
        {
            // already in this very slot (reuseport_array_update_check tests sk_user_data before comparing sockets)
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }

        _registered[generation] = socket;
    }

    /// <summary>Whether <paramref name="generation"/>'s slot holds exactly <paramref name="socket"/> (map value = its SO_COOKIE).</summary>
    public bool Holds(GenerationId generation, Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        return TryGetSocketCookie(generation, out ulong cookie) && cookie == BpfSyscall.GetSocketCookie(socket);
    }

    /// <summary>
    /// The cookie of the socket in <paramref name="generation"/>'s slot: a REUSEPORT_SOCKARRAY with 8-byte values
    /// answers a user-space lookup with sock_gen_cookie (bpf_fd_reuseport_array_lookup_elem). False when empty.
    /// </summary>
    public unsafe bool TryGetSocketCookie(GenerationId generation, out ulong cookie)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ulong value = 0;
        bool found = BpfSyscall.LookupElement(_socketMap, generation.Value, &value);
        cookie = value;
        return found;
    }

    /// <summary>Empties <paramref name="generation"/>'s slot; its short headers then go to the active generation. False when already empty (e.g. the socket closed).</summary>
    public bool RemoveGeneration(GenerationId generation)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _registered.Remove(generation);
        return BpfSyscall.DeleteElement(_socketMap, generation.Value);
    }

    /// <summary>Whether <paramref name="generation"/>'s slot holds a (still open) socket.</summary>
    public bool ContainsGeneration(GenerationId generation) => TryGetSocketCookie(generation, out _);

    /// <summary>
    /// Makes <paramref name="generation"/> the target of long headers, unknown generations and truncated datagrams:
    /// one 4-byte update of the active map, effective for the next datagram, no reload. Register its socket first;
    /// while the active slot is empty, such datagrams fall back to the kernel's hash over the whole group.
    /// </summary>
    public unsafe void SetActive(GenerationId generation)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        uint value = generation.Value;
        BpfSyscall.UpdateElement(_activeMap, 0, &value, BpfSyscall.BPF_ANY);
        Active = generation;
    }

    /// <summary>
    /// Detaches the program from the group (SO_DETACH_REUSEPORT_BPF through the socket it was attached through, or any
    /// registered socket still open; selection falls back to the kernel's hash), then closes the program and map fds,
    /// which frees them and empties the slots. Detaching removes whatever program the group has at that moment.
    /// </summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_attachedThrough is not null && DetachOnDispose)
        {
            foreach (var socket in _registered.Values.Prepend(_attachedThrough))
            {
                try
                {
                    if (socket.SafeHandle.IsClosed) continue;
                    ReuseportSocket.Detach(socket);
                    break;
                }
                catch (ReuseportSocketOptionException error) when (error.Errno == ReuseportSocketOptionException.ENOENT)
                {
                    break; // no program attached any more
                }
                catch (ReuseportSocketOptionException)
                {
                    // try the next socket
                }
                catch (ObjectDisposedException)
                {
                    // closed meanwhile
                }
            }
        }

        _registered.Clear();
        _program?.Dispose();
        _activeMap.Dispose();
        _socketMap.Dispose();
    }
}
