using System.Net.Sockets;
using System.Runtime.InteropServices;
using AspNetQuicSteer.Sockets.Interop;

namespace AspNetQuicSteer.Steering.Coordination;

/// <summary>
/// The few libc calls the coordinator needs that .NET does not expose: the effective uid, advisory file locks
/// (flock(2)) for electing the coordinator host, and statx(2) for the owner and type of a path.
/// </summary>
internal static partial class CoordinatorInterop
{
    private const string LibC = "libc";

    private const int O_RDWR = 0x2;
    private const int O_CREAT = 0x40;
    private const int O_CLOEXEC = 0x80000;
    private const int O_NOFOLLOW = 0x20000;
    private const int LOCK_EX = 2;
    private const int LOCK_NB = 4;
    internal const int EWOULDBLOCK = 11;
    internal const int ENOENT = 2;
    private const int AT_FDCWD = -100;
    private const int AT_SYMLINK_NOFOLLOW = 0x100;
    private const uint STATX_TYPE = 0x1;
    private const uint STATX_MODE = 0x2;
    private const uint STATX_UID = 0x8;

    /// <summary>stat(2): file type bits of st_mode.</summary>
    internal const int S_IFMT = 0xF000;
    internal const int S_IFSOCK = 0xC000;
    internal const int S_IFDIR = 0x4000;

    /// <summary>socket(7): SOL_SOCKET; SO_PEERCRED returns struct ucred { pid_t pid; uid_t uid; gid_t gid; } (12 bytes).</summary>
    internal const int SOL_SOCKET = 1;
    internal const int SO_PEERCRED = 17;

    // uid_t geteuid(void);
    [LibraryImport(LibC, EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUidNative();

    // int open(const char *pathname, int flags, mode_t mode);
    [LibraryImport(LibC, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags, uint mode);

    // int flock(int fd, int operation);
    [LibraryImport(LibC, EntryPoint = "flock", SetLastError = true)]
    private static partial int Flock(int fd, int operation);

    // int close(int fd);

    // int statx(int dirfd, const char *pathname, int flags, unsigned int mask, struct statx *statxbuf);
    [LibraryImport(LibC, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    public static uint EffectiveUid => OperatingSystem.IsLinux() ? GetEffectiveUidNative() : throw new PlatformNotSupportedException("The generation coordinator needs Linux (SOCK_SEQPACKET, SO_PEERCRED).");

    /// <summary>
    /// Opens (creating with mode 0600) <paramref name="path"/> and takes an exclusive, non-blocking flock(2) on it.
    /// Returns null when another open file description holds the lock. The kernel drops the lock when the holder's
    /// descriptor closes, including when the process dies, so a crashed host never leaves the lock behind.
    /// </summary>
    public static SafeLockHandle? TryLockExclusive(string path)
    {
        int fd = Open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0b110_000_000);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"Cannot open the coordinator lock file {path}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).");
        }

        var handle = new SafeLockHandle(fd);
        if (Flock(fd, LOCK_EX | LOCK_NB) == 0) return handle;

        int error = Marshal.GetLastPInvokeError();
        handle.Dispose();
        return error == EWOULDBLOCK
            ? null
            : throw new IOException($"flock({path}) failed: {Marshal.GetPInvokeErrorMessage(error)} (errno {error}).");
    }

    /// <summary>Owner uid and st_mode of <paramref name="path"/> (not following a final symlink); null when it does not exist.</summary>
    public static unsafe (uint Uid, int Mode)? TryStat(string path)
    {
        // struct statx is 256 bytes on every architecture: stx_uid at offset 20 (__u32), stx_mode at 28 (__u16).
        byte* buffer = stackalloc byte[256];
        if (Statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_MODE | STATX_UID, buffer) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            return errno == ENOENT
                ? null
                : throw new IOException($"statx({path}) failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).");
        }

        return (*(uint*)(buffer + 20), *(ushort*)(buffer + 28));
    }

    /// <summary>SO_PEERCRED of a connected AF_UNIX socket: the peer's credentials as of its connect(2) or listen(2).</summary>
    public static PeerCredentials GetPeerCredentials(Socket socket)
    {
        Span<byte> ucred = stackalloc byte[12];
        int length = socket.GetRawSocketOption(SOL_SOCKET, SO_PEERCRED, ucred);
        if (length != 12) throw new IOException($"SO_PEERCRED returned {length} bytes, expected 12.");
        return new PeerCredentials(
            BitConverter.ToInt32(ucred[..4]),
            BitConverter.ToUInt32(ucred[4..8]),
            BitConverter.ToUInt32(ucred[8..12]));
    }
}

/// <summary>socket(7)/unix(7) struct ucred, as SO_PEERCRED reports it.</summary>
internal readonly record struct PeerCredentials(int Pid, uint Uid, uint Gid);

/// <summary>A descriptor holding an flock(2); closing it releases the lock.</summary>
internal sealed class SafeLockHandle : SafeHandle
{
    public SafeLockHandle(int fd)
        : base(invalidHandleValue: -1, ownsHandle: true) => SetHandle(fd);

    public override bool IsInvalid => handle == -1;

    protected override bool ReleaseHandle() => LinuxSocketInterop.Close((int)handle) == 0;
}
