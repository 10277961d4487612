using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using AspNetQuicSteer.Sockets.Interop;

namespace AspNetQuicSteer.Steering.Kernel.Ebpf;

/// <summary>
/// The few bpf(2) commands the eBPF reuseport dataplane needs, called through libc's syscall(2) (glibc has no bpf()
/// wrapper): <c>long syscall(SYS_bpf, int cmd, union bpf_attr *attr, unsigned int size)</c>. Each command gets its own
/// prefix of <c>union bpf_attr</c> (include/uapi/linux/bpf.h) and passes that prefix's size: the kernel copies
/// <c>size</c> bytes, zero-fills the rest of its own union, and rejects non-zero bytes past the last field the command
/// knows (CHECK_ATTR in kernel/bpf/syscall.c), so a shorter struct is always valid.
/// <para>Needs CAP_BPF (and CAP_NET_ADMIN for networking program types) or root: with
/// kernel.unprivileged_bpf_disabled ≠ 0 every command fails with EPERM for anyone else (PLATFORM.md; bpf(2) NOTES).</para>
/// </summary>
internal static unsafe partial class BpfSyscall
{
    // enum bpf_cmd (bpf.h), in declaration order from 0.
    public const int BPF_MAP_CREATE = 0;
    public const int BPF_MAP_LOOKUP_ELEM = 1;
    public const int BPF_MAP_UPDATE_ELEM = 2;
    public const int BPF_MAP_DELETE_ELEM = 3;
    public const int BPF_PROG_LOAD = 5;

    // enum bpf_map_type (bpf.h).
    public const uint BPF_MAP_TYPE_ARRAY = 2;
    public const uint BPF_MAP_TYPE_REUSEPORT_SOCKARRAY = 20;

    /// <summary>enum bpf_prog_type (bpf.h) BPF_PROG_TYPE_SK_REUSEPORT.</summary>
    public const uint BPF_PROG_TYPE_SK_REUSEPORT = 21;

    /// <summary>
    /// enum bpf_attach_type (bpf.h) BPF_SK_REUSEPORT_SELECT (Linux 5.14): the plain "select a socket" flavour (not
    /// SELECT_OR_MIGRATE, which is for TCP request migration); kernel/bpf/syscall.c substitutes it for 0.
    /// </summary>
    public const uint BPF_SK_REUSEPORT_SELECT = 39;

    // BPF_MAP_UPDATE_ELEM flags (bpf.h).
    public const ulong BPF_ANY = 0;
    public const ulong BPF_NOEXIST = 1;
    public const ulong BPF_EXIST = 2;

    /// <summary>bpf.h BPF_OBJ_NAME_LEN: map and program names, NUL included; the kernel allows [A-Za-z0-9_.].</summary>
    public const int ObjectNameLength = 16;

    /// <summary>The verifier log buffer for a failed load (the kernel wants at least 128 bytes; 1 MiB is plenty for our programs).</summary>
    public const int VerifierLogSize = 1 << 20;

    /// <summary>
    /// __NR_bpf: 321 on x86-64 (arch/x86/entry/syscalls/syscall_64.tbl), 280 on arm64 (include/uapi/asm-generic/unistd.h).
    /// </summary>
    public static long SyscallNumber => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => 321,
        Architecture.Arm64 => 280,
        var other => throw new PlatformNotSupportedException($"bpf(2) syscall number unknown for {other}."),
    };

    /// <summary>BPF_MAP_CREATE: a new map; the returned descriptor owns it (the map lives while any fd or program refers to it).</summary>
    /// <exception cref="BpfException">The kernel refused (EPERM without privileges, EINVAL for bad sizes…).</exception>
    public static BpfFileDescriptor CreateMap(uint mapType, uint keySize, uint valueSize, uint maxEntries, string name)
    {
        ThrowIfNotLinux();
        var attr = new MapCreateAttr { MapType = mapType, KeySize = keySize, ValueSize = valueSize, MaxEntries = maxEntries };
        WriteName(new Span<byte>(attr.MapName, ObjectNameLength), name);
        long fd = Invoke(BPF_MAP_CREATE, &attr, sizeof(MapCreateAttr), out int errno);
        if (fd < 0) throw new BpfException("bpf(BPF_MAP_CREATE)", errno);
        return new BpfFileDescriptor((int)fd);
    }

    /// <summary>BPF_MAP_UPDATE_ELEM with a u32 key; <paramref name="value"/> points at value_size bytes.</summary>
    /// <exception cref="BpfException">The kernel refused.</exception>
    public static void UpdateElement(BpfFileDescriptor map, uint key, void* value, ulong flags)
    {
        if (!TryElementCommand(BPF_MAP_UPDATE_ELEM, map, key, value, flags, out int errno))
            throw new BpfException("bpf(BPF_MAP_UPDATE_ELEM)", errno);
    }

    /// <summary>BPF_MAP_DELETE_ELEM with a u32 key; false when there was no element (ENOENT).</summary>
    /// <exception cref="BpfException">The kernel refused for another reason.</exception>
    public static bool DeleteElement(BpfFileDescriptor map, uint key)
    {
        if (TryElementCommand(BPF_MAP_DELETE_ELEM, map, key, null, 0, out int errno)) return true;
        if (errno == BpfException.ENOENT) return false;
        throw new BpfException("bpf(BPF_MAP_DELETE_ELEM)", errno);
    }

    /// <summary>BPF_MAP_LOOKUP_ELEM with a u32 key into value_size bytes at <paramref name="value"/>; false when absent (ENOENT).</summary>
    /// <exception cref="BpfException">The kernel refused for another reason.</exception>
    public static bool LookupElement(BpfFileDescriptor map, uint key, void* value)
    {
        if (TryElementCommand(BPF_MAP_LOOKUP_ELEM, map, key, value, 0, out int errno)) return true;
        if (errno == BpfException.ENOENT) return false;
        throw new BpfException("bpf(BPF_MAP_LOOKUP_ELEM)", errno);
    }

    /// <summary>
    /// BPF_PROG_LOAD. The first attempt runs without a verifier log (log_level 0: cheapest); when the kernel refuses
    /// the program it is loaded again with log_level 1 and a <see cref="VerifierLogSize"/> buffer, and the log goes
    /// into the exception. The map fds named by ld_imm64 instructions must be open during the call; afterwards the
    /// program holds its own references to the maps.
    /// </summary>
    /// <exception cref="BpfException">The kernel refused; <see cref="BpfException.VerifierLog"/> says why when the verifier did.</exception>
    public static BpfFileDescriptor LoadProgram(
        uint programType, uint expectedAttachType, ReadOnlySpan<EbpfInstruction> instructions, string license, string name)
    {
        ThrowIfNotLinux();
        if (instructions.IsEmpty) throw new ArgumentException("A program needs at least one instruction.", nameof(instructions));
        byte[] licenseBytes = new byte[Encoding.ASCII.GetByteCount(license) + 1];
        Encoding.ASCII.GetBytes(license, licenseBytes);

        fixed (EbpfInstruction* insns = instructions)
        fixed (byte* licensePointer = licenseBytes)
        {
            var attr = new ProgLoadAttr
            {
                ProgType = programType,
                InsnCount = (uint)instructions.Length,
                Insns = (ulong)insns,
                License = (ulong)licensePointer,
                ExpectedAttachType = expectedAttachType,
            };
            WriteName(new Span<byte>(attr.ProgName, ObjectNameLength), name);
            long fd = Invoke(BPF_PROG_LOAD, &attr, sizeof(ProgLoadAttr), out int errno);
            if (fd >= 0) return new BpfFileDescriptor((int)fd);
            if (errno is not (BpfException.EACCES or BpfException.EINVAL or BpfException.E2BIG or BpfException.ENOSPC))
                throw new BpfException("bpf(BPF_PROG_LOAD)", errno);

            // Again with the verifier's log (bpf(2): log_buf/log_size/log_level; "the verifier log" explains a refusal).
            byte[] log = new byte[VerifierLogSize];
            fixed (byte* logPointer = log)
            {
                attr.LogLevel = 1;
                attr.LogSize = (uint)log.Length;
                attr.LogBuf = (ulong)logPointer;
                fd = Invoke(BPF_PROG_LOAD, &attr, sizeof(ProgLoadAttr), out int logErrno);
                if (fd >= 0) return new BpfFileDescriptor((int)fd); // a transient refusal; the second load succeeded
                int length = Array.IndexOf(log, (byte)0);
                string text = Encoding.UTF8.GetString(log, 0, length < 0 ? log.Length : length).TrimEnd();
                throw new BpfException("bpf(BPF_PROG_LOAD)", logErrno == BpfException.ENOSPC ? errno : logErrno, text);
            }
        }
    }

    /// <summary>
    /// setsockopt(SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &amp;progFd): the program now selects the socket for every datagram
    /// to <paramref name="member"/>'s reuseport group (replacing any program, classic or eBPF). The group keeps its own
    /// reference to the program, so the program fd may be closed afterwards. Needs no privilege beyond the fd.
    /// </summary>
    /// <exception cref="BpfException">The kernel refused (EINVAL: no SO_REUSEPORT group; EPERM: filters locked…).</exception>
    public static void AttachReuseportProgram(Socket member, BpfFileDescriptor program)
    {
        ArgumentNullException.ThrowIfNull(member);
        ArgumentNullException.ThrowIfNull(program);
        ThrowIfNotLinux();
        var socketHandle = member.SafeHandle;
        bool socketAdded = false, programAdded = false;
        try
        {
            socketHandle.DangerousAddRef(ref socketAdded);
            program.DangerousAddRef(ref programAdded);
            int fd = (int)program.DangerousGetHandle();
            if (LinuxSocketInterop.SetSockOpt((int)socketHandle.DangerousGetHandle(), ReuseportSocket.SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &fd, sizeof(int)) != 0)
                throw new BpfException("setsockopt(SO_ATTACH_REUSEPORT_EBPF)", Marshal.GetLastPInvokeError());
        }
        finally
        {
            if (programAdded) program.DangerousRelease();
            if (socketAdded) socketHandle.DangerousRelease();
        }
    }

    /// <summary>include/uapi/asm-generic/socket.h SO_ATTACH_REUSEPORT_EBPF (Linux 4.6).</summary>
    public const int SO_ATTACH_REUSEPORT_EBPF = 52;

    /// <summary>include/uapi/asm-generic/socket.h SO_COOKIE (Linux 4.12): the socket's 64-bit cookie.</summary>
    public const int SO_COOKIE = 57;

    /// <summary>getsockopt(SO_COOKIE): what a REUSEPORT_SOCKARRAY lookup returns for this socket.</summary>
    public static ulong GetSocketCookie(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        Span<byte> value = stackalloc byte[sizeof(ulong)];
        int length = socket.GetRawSocketOption(ReuseportSocket.SOL_SOCKET, SO_COOKIE, value);
        if (length != sizeof(ulong)) throw new BpfException($"getsockopt(SO_COOKIE) returned {length} bytes.");
        return BitConverter.ToUInt64(value);
    }

    private static bool TryElementCommand(int command, BpfFileDescriptor map, uint key, void* value, ulong flags, out int errno)
    {
        ArgumentNullException.ThrowIfNull(map);
        ThrowIfNotLinux();
        bool added = false;
        try
        {
            map.DangerousAddRef(ref added);
            var attr = new MapElemAttr
            {
                MapFd = (uint)map.DangerousGetHandle(),
                Key = (ulong)&key,
                Value = (ulong)value,
                Flags = flags,
            };
            return Invoke(command, &attr, sizeof(MapElemAttr), out errno) >= 0;
        }
        finally
        {
            if (added) map.DangerousRelease();
        }
    }

    private static long Invoke(int command, void* attr, int size, out int errno)
    {
        long result = Syscall(SyscallNumber, command, attr, size);
        errno = result < 0 ? Marshal.GetLastPInvokeError() : 0;
        return result;
    }

    private static void WriteName(Span<byte> destination, string name)
    {
        if (name.Length >= ObjectNameLength || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '_' or '.')))
            throw new ArgumentException($"BPF object names have at most {ObjectNameLength - 1} characters of [A-Za-z0-9_.] (bpf_obj_name_cpy).", nameof(name));
        Encoding.ASCII.GetBytes(name, destination);
    }

    private static void ThrowIfNotLinux()
    {
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException("eBPF (bpf(2), SO_ATTACH_REUSEPORT_EBPF) exists only on Linux.");
    }

    /// <summary>bpf.h union bpf_attr, the BPF_MAP_CREATE prefix up to map_name (44 bytes, padded to 48 = up to map_ifindex, left 0).</summary>
    [StructLayout(LayoutKind.Sequential, Size = 48)]
    private struct MapCreateAttr
    {
        public uint MapType;
        public uint KeySize;
        public uint ValueSize;
        public uint MaxEntries;
        public uint MapFlags;
        public uint InnerMapFd;
        public uint NumaNode;
        public fixed byte MapName[ObjectNameLength];
    }

    /// <summary>bpf.h union bpf_attr, the BPF_MAP_*_ELEM struct: map_fd, then __aligned_u64 key, value, flags (32 bytes).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 32)]
    private struct MapElemAttr
    {
        [FieldOffset(0)] public uint MapFd;
        [FieldOffset(8)] public ulong Key;
        [FieldOffset(16)] public ulong Value;
        [FieldOffset(24)] public ulong Flags;
    }

    /// <summary>bpf.h union bpf_attr, the BPF_PROG_LOAD prefix up to expected_attach_type (72 bytes; offsets checked with offsetof).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 72)]
    private struct ProgLoadAttr
    {
        [FieldOffset(0)] public uint ProgType;
        [FieldOffset(4)] public uint InsnCount;
        [FieldOffset(8)] public ulong Insns;
        [FieldOffset(16)] public ulong License;
        [FieldOffset(24)] public uint LogLevel;
        [FieldOffset(28)] public uint LogSize;
        [FieldOffset(32)] public ulong LogBuf;
        [FieldOffset(40)] public uint KernVersion;
        [FieldOffset(44)] public uint ProgFlags;
        [FieldOffset(48)] public fixed byte ProgName[ObjectNameLength];
        [FieldOffset(64)] public uint ProgIfIndex;
        [FieldOffset(68)] public uint ExpectedAttachType;
    }

    // syscall(2): long syscall(long number, ...). The variadic integer arguments travel in the same registers as fixed
    // ones on x86-64 and arm64 Linux, and glibc's syscall() only moves registers.
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, long command, void* attr, long size);
}

/// <summary>A file descriptor for a BPF map or program, closed with close(2) when released.</summary>
internal sealed partial class BpfFileDescriptor : SafeHandle
{
    public BpfFileDescriptor(int fd) : base(invalidHandleValue: -1, ownsHandle: true) => SetHandle(fd);

    public override bool IsInvalid => handle < 0;

    /// <summary>The raw fd (for ld_imm64 map references and logs); valid while this handle is open.</summary>
    public int Fd => (int)handle;

    protected override bool ReleaseHandle() => LinuxSocketInterop.Close((int)handle) == 0;
}

/// <summary>A bpf(2) command or eBPF socket option the kernel refused: the errno, what it means there, and the verifier log when there is one.</summary>
internal sealed class BpfException : IOException
{
    // errno values: include/uapi/asm-generic/errno-base.h, errno.h; ENOTSUPP is kernel-internal (include/linux/errno.h)
    // but leaks to user space from the reuseport paths.
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int E2BIG = 7;
    public const int EBADF = 9;
    public const int ENOMEM = 12;
    public const int EACCES = 13;
    public const int EFAULT = 14;
    public const int EBUSY = 16;
    public const int EEXIST = 17;
    public const int EINVAL = 22;
    public const int ENOSPC = 28;
    public const int ENOSYS = 38;
    public const int ENOTSOCK = 88;
    public const int ENOPROTOOPT = 92;
    public const int ENOTSUPP = 524;

    public BpfException(string operation, int errno, string? verifierLog = null)
        : base(Describe(operation, errno, verifierLog))
    {
        Operation = operation;
        Errno = errno;
        VerifierLog = string.IsNullOrEmpty(verifierLog) ? null : verifierLog;
    }

    public BpfException()
    {
        Operation = "";
    }

    public BpfException(string message) : base(message)
    {
        Operation = "";
    }

    public BpfException(string message, Exception innerException) : base(message, innerException)
    {
        Operation = "";
    }

    /// <summary>"bpf(BPF_PROG_LOAD)", "setsockopt(SO_ATTACH_REUSEPORT_EBPF)", …</summary>
    public string Operation { get; }

    public int Errno { get; }

    /// <summary>The kernel verifier's log (log_level 1) when a program load was refused.</summary>
    public string? VerifierLog { get; }

    public static string Name(int errno) => errno switch
    {
        EPERM => "EPERM",
        ENOENT => "ENOENT",
        E2BIG => "E2BIG",
        EBADF => "EBADF",
        ENOMEM => "ENOMEM",
        EACCES => "EACCES",
        EFAULT => "EFAULT",
        EBUSY => "EBUSY",
        EEXIST => "EEXIST",
        EINVAL => "EINVAL",
        ENOSPC => "ENOSPC",
        ENOSYS => "ENOSYS",
        ENOTSOCK => "ENOTSOCK",
        ENOPROTOOPT => "ENOPROTOOPT",
        ENOTSUPP => "ENOTSUPP",
        _ => "errno",
    };

    private static string Describe(string operation, int errno, string? verifierLog)
    {
        string text = $"{operation} failed with {Name(errno)} ({errno}): {Explain(operation, errno)}";
        return string.IsNullOrEmpty(verifierLog) ? text : text + "\nVerifier log:\n" + verifierLog;
    }

    // Causes from bpf(2), kernel/bpf/syscall.c, kernel/bpf/reuseport_array.c (bpf_fd_reuseport_array_update_elem,
    // reuseport_array_update_check, reuseport_array_delete_elem) and net/core/filter.c (sk_reuseport_attach_bpf).
    private static string Explain(string operation, int errno)
    {
        bool attach = operation.StartsWith("setsockopt", StringComparison.Ordinal);
        bool update = operation.Contains("UPDATE", StringComparison.Ordinal);
        bool load = operation.Contains("PROG_LOAD", StringComparison.Ordinal);
        return errno switch
        {
            EPERM when attach => "the socket's filters are locked (SO_LOCK_FILTER) or a security policy forbids it.",
            EPERM => "eBPF needs root or CAP_BPF (plus CAP_NET_ADMIN for networking programs); "
                + $"kernel.unprivileged_bpf_disabled = {UnprivilegedBpfDisabled()} refuses everyone else. "
                + "Use the classic BPF (reuseport-cbpf) or forwarding dataplane instead.",
            EACCES when load => "the verifier rejected the program (see its log).",
            EINVAL when load => "the kernel rejected the program or its attributes (see the verifier log, if any).",
            EINVAL when attach => "the socket is not bound with SO_REUSEPORT (no reuseport group), or the fd is not a program.",
            EINVAL when update => "the socket is not bound with SO_REUSEPORT (not hashed, no reuseport group), or invalid flags/fd.",
            EINVAL => "invalid attributes (key/value size, max_entries, flags).",
            ENOENT => "no such element (or, for BPF_EXIST, the slot was empty).",
            EEXIST => "the element exists (BPF_NOEXIST).",
            E2BIG when load => "the program is too large for the verifier.",
            E2BIG => "the key is not below max_entries, or the attributes are larger than this kernel knows.",
            EBUSY => "the socket is already in a REUSEPORT_SOCKARRAY slot (a socket can be in one slot of one map only).",
            ENOTSUPP => "not a TCP/UDP IPv4/IPv6 socket (REUSEPORT_SOCKARRAY and SK_REUSEPORT programs support nothing else).",
            EBADF or ENOTSOCK => "the fd is closed, or not a socket / map / program as required.",
            ENOMEM => "out of memory, or (kernels before 5.11) RLIMIT_MEMLOCK too low for the map or program.",
            ENOSPC => "the verifier log buffer was too small.",
            ENOSYS => "this kernel has no bpf() syscall (CONFIG_BPF_SYSCALL).",
            ENOPROTOOPT => "this kernel does not know SO_ATTACH_REUSEPORT_EBPF (Linux 4.6+).",
            EFAULT => "a pointer was invalid (a bug in the caller).",
            _ => "unexpected error.",
        };
    }

    private static string UnprivilegedBpfDisabled()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/unprivileged_bpf_disabled").Trim();
        }
        catch (IOException)
        {
            return "?";
        }
        catch (UnauthorizedAccessException)
        {
            return "?";
        }
    }
}
