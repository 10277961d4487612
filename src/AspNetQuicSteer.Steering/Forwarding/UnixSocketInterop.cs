using System.Runtime.InteropServices;

namespace AspNetQuicSteer.Steering.Forwarding;

/// <summary>unix(7): struct ucred { pid_t pid; uid_t uid; gid_t gid; } — 12 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct UnixCredentials
{
    public int ProcessId;
    public uint UserId;
    public uint GroupId;
}

/// <summary>
/// The AF_UNIX pieces the forwarding path needs on top of <c>LinuxSocketInterop</c> (which provides sendmsg/recvmsg,
/// msghdr, iovec and cmsghdr). Values from &lt;bits/socket.h&gt;, &lt;asm-generic/socket.h&gt; and
/// &lt;asm-generic/errno-base.h&gt; as used on x86-64 and arm64 Linux.
/// </summary>
internal static partial class UnixSocketInterop
{
    private const string LibC = "libc";

    internal const ushort AF_UNIX = 1;
    internal const int SOL_SOCKET = 1;
    internal const int SO_PASSCRED = 16;    // unix(7)
    internal const int SCM_CREDENTIALS = 2; // unix(7)

    /// <summary>sendmsg(2): do not raise SIGPIPE (irrelevant for datagrams, harmless, and guards against surprises).</summary>
    internal const int MSG_NOSIGNAL = 0x4000;

    /// <summary>recvmsg(2): close-on-exec for any descriptor received with SCM_RIGHTS.</summary>
    internal const int MSG_CMSG_CLOEXEC = 0x40000000;

    internal const int ENOENT = 2;
    internal const int EACCES = 13;

    /// <summary>unix(7): sun_path is 108 bytes on Linux, including the terminating NUL of a pathname address.</summary>
    internal const int SunPathLength = 108;

    /// <summary>offsetof(struct sockaddr_un, sun_path): sa_family_t is 2 bytes.</summary>
    internal const int SunPathOffset = 2;

    // getuid(2): uid_t getuid(void); "always successful".
    [LibraryImport(LibC, EntryPoint = "getuid")]
    internal static partial uint GetUid();

    /// <summary>
    /// Encodes a pathname sockaddr_un: family, path bytes and the terminating NUL. unix(7) gives the address length of
    /// a pathname socket as offsetof(struct sockaddr_un, sun_path) + strlen(sun_path) + 1, which is the array length.
    /// </summary>
    internal static byte[] CreatePathAddress(string path)
    {
        int pathBytes = System.Text.Encoding.UTF8.GetByteCount(path);
        if (pathBytes + 1 > SunPathLength)
        {
            throw new ArgumentException(
                $"The socket path '{path}' is {pathBytes} bytes; sockaddr_un allows {SunPathLength - 1} (unix(7)). Use a shorter directory.",
                nameof(path));
        }

        // Pinned: the kernel reads it through a raw pointer on every send.
        byte[] address = GC.AllocateArray<byte>(SunPathOffset + pathBytes + 1, pinned: true);
        BitConverter.TryWriteBytes(address.AsSpan(0, 2), AF_UNIX); // sa_family_t in host order
        System.Text.Encoding.UTF8.GetBytes(path, address.AsSpan(SunPathOffset));
        return address;
    }
}
