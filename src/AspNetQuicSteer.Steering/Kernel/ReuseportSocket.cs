using System.Net.Sockets;
using System.Net;
using System.Runtime.InteropServices;
using AspNetQuicSteer.Sockets.Interop;

namespace AspNetQuicSteer.Steering.Kernel;

/// <summary>
/// Linux socket options for a reuseport group: SO_REUSEPORT, SO_ATTACH_REUSEPORT_CBPF, SO_DETACH_REUSEPORT_BPF.
/// Values from include/uapi/asm-generic/socket.h (x86-64 and arm64 use the generic numbers).
/// </summary>
internal static partial class ReuseportSocket
{
    /// <summary>asm-generic/socket.h SOL_SOCKET.</summary>
    public const int SOL_SOCKET = 1;

    /// <summary>asm-generic/socket.h SO_REUSEPORT.</summary>
    public const int SO_REUSEPORT = 15;

    /// <summary>asm-generic/socket.h SO_ATTACH_REUSEPORT_CBPF (Linux 4.5+ for UDP).</summary>
    public const int SO_ATTACH_REUSEPORT_CBPF = 51;

    /// <summary>asm-generic/socket.h SO_DETACH_REUSEPORT_BPF (Linux 5.3+).</summary>
    public const int SO_DETACH_REUSEPORT_BPF = 68;

    /// <summary>
    /// A new UDP socket with SO_REUSEPORT set, bound to <paramref name="endpoint"/>. Binding joins (or creates) the
    /// reuseport group of that address and port; the socket's index in the group is the number of sockets bound
    /// before it that are still open (see <see cref="ReuseportJoinOrder{TMember}"/>). Port 0 picks a free port and
    /// starts a new group: read the port back from <see cref="Socket.LocalEndPoint"/> for the next sockets.
    /// Every socket of a group must belong to the same effective uid (socket(7) SO_REUSEPORT).
    /// </summary>
    public static Socket Bind(IPEndPoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ThrowIfNotLinux();
        var socket = new Socket(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            // SO_REUSEPORT must be set before bind(2) on every socket of the group (socket(7)). Not ReuseAddress:
            // on Linux .NET maps that to SO_REUSEADDR and SO_REUSEPORT together (PLATFORM.md).
            socket.SetRawSocketOption(SOL_SOCKET, SO_REUSEPORT, BitConverter.GetBytes(1));
            socket.Bind(endpoint);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Attaches <paramref name="program"/> to the whole reuseport group <paramref name="socket"/> belongs to,
    /// replacing any program attached before (socket(7): "These options may be set repeatedly at any time on any
    /// socket in the group to replace the current BPF program used by all sockets in the group"). The kernel copies
    /// the program during the call. Needs no privilege.
    /// </summary>
    /// <exception cref="ReuseportSocketOptionException">The kernel refused; <see cref="ReuseportSocketOptionException.Errno"/> says why.</exception>
    public static unsafe void AttachCbpf(Socket socket, ReadOnlySpan<ClassicBpfInstruction> program)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ThrowIfNotLinux();
        if (program.IsEmpty || program.Length > ClassicBpf.MaxInstructions)
            throw new ArgumentOutOfRangeException(nameof(program), program.Length, $"A classic BPF program has 1..{ClassicBpf.MaxInstructions} instructions (BPF_MAXINSNS).");

        fixed (ClassicBpfInstruction* instructions = program)
        {
            var fprog = new SockFprog { Length = (ushort)program.Length, Filter = instructions };
            SetSocketOption(socket, SO_ATTACH_REUSEPORT_CBPF, &fprog, (uint)sizeof(SockFprog), "SO_ATTACH_REUSEPORT_CBPF");
        }
    }

    /// <summary>
    /// Removes the group's program; selection falls back to the kernel's hash. The option value is ignored by the
    /// kernel (net/core/sock.c SO_DETACH_REUSEPORT_BPF → reuseport_detach_prog).
    /// </summary>
    /// <exception cref="ReuseportSocketOptionException">ENOENT: no program attached; EINVAL: not a reuseport socket.</exception>
    public static unsafe void Detach(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ThrowIfNotLinux();
        int ignored = 0;
        SetSocketOption(socket, SO_DETACH_REUSEPORT_BPF, &ignored, sizeof(int), "SO_DETACH_REUSEPORT_BPF");
    }

    private static unsafe void SetSocketOption(Socket socket, int option, void* value, uint length, string optionName)
    {
        var handle = socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            if (LinuxSocketInterop.SetSockOpt((int)handle.DangerousGetHandle(), SOL_SOCKET, option, value, length) != 0)
                throw new ReuseportSocketOptionException(optionName, Marshal.GetLastPInvokeError());
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    private static void ThrowIfNotLinux()
    {
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException("Reuseport BPF steering (SO_ATTACH_REUSEPORT_CBPF) exists only on Linux.");
    }

    /// <summary>linux/filter.h <c>struct sock_fprog { unsigned short len; struct sock_filter *filter; }</c> — 16 bytes on LP64 (6 bytes padding after len).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct SockFprog
    {
        public ushort Length;
        public ClassicBpfInstruction* Filter;
    }
}

/// <summary>A reuseport socket option the kernel refused, with the errno and what it means for that option.</summary>
internal sealed class ReuseportSocketOptionException : IOException
{
    // errno values: include/uapi/asm-generic/errno-base.h and errno.h.
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EBADF = 9;
    public const int ENOMEM = 12;
    public const int EFAULT = 14;
    public const int EINVAL = 22;
    public const int ENOTSOCK = 88;
    public const int ENOPROTOOPT = 92;

    public ReuseportSocketOptionException(string option, int errno)
        : base($"setsockopt({option}) failed with {Name(errno)} ({errno}): {Explain(option, errno)}")
    {
        Option = option;
        Errno = errno;
    }

    public ReuseportSocketOptionException()
    {
        Option = "";
    }

    public ReuseportSocketOptionException(string message) : base(message)
    {
        Option = "";
    }

    public ReuseportSocketOptionException(string message, Exception innerException) : base(message, innerException)
    {
        Option = "";
    }

    public string Option { get; }

    public int Errno { get; }

    private static string Name(int errno) => errno switch
    {
        EPERM => "EPERM",
        ENOENT => "ENOENT",
        EBADF => "EBADF",
        ENOMEM => "ENOMEM",
        EFAULT => "EFAULT",
        EINVAL => "EINVAL",
        ENOTSOCK => "ENOTSOCK",
        ENOPROTOOPT => "ENOPROTOOPT",
        _ => "errno",
    };

    // Causes from net/core/filter.c (__get_filter, bpf_check_classic, __reuseport_attach_prog) and
    // net/core/sock_reuseport.c (reuseport_detach_prog).
    private static string Explain(string option, int errno) => (errno, option) switch
    {
        (EINVAL, "SO_DETACH_REUSEPORT_BPF") => "the socket does not have SO_REUSEPORT set.",
        (EINVAL, _) => "program rejected by the kernel (classic BPF checker: unknown opcode, jump past the end, "
            + "no final return, 0 or more than 4096 instructions), or the socket was bound without SO_REUSEPORT.",
        (ENOENT, _) => "no BPF program is attached to the reuseport group.",
        (EPERM, _) => "the socket's filters are locked (SO_LOCK_FILTER) or a security policy (seccomp, LSM) forbids it.",
        (ENOMEM, _) => "the program is larger than net.core.optmem_max allows, or the kernel is out of memory.",
        (EFAULT, _) => "the program pointer was invalid (a bug in the caller).",
        (ENOPROTOOPT, _) => "this kernel does not know the option (SO_ATTACH_REUSEPORT_CBPF needs Linux 4.5, "
            + "SO_DETACH_REUSEPORT_BPF Linux 5.3).",
        (EBADF or ENOTSOCK, _) => "the socket is closed.",
        _ => "unexpected error.",
    };
}
