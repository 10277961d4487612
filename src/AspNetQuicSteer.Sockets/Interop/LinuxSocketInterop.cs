using System.Runtime.InteropServices;

namespace AspNetQuicSteer.Sockets.Interop;

// Exact Linux LP64 (x86-64 / arm64) layouts from <bits/socket.h>, <sys/uio.h>, <netinet/in.h>.
// LayoutKind.Sequential inserts the same natural-alignment padding the C compiler does; the
// offsets are pinned by NativeLayoutTests.

/// <summary>struct iovec { void *iov_base; size_t iov_len; } — 16 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct IoVec
{
    public byte* Base;
    public nuint Length;
}

/// <summary>
/// struct msghdr — 56 bytes: msg_name@0, msg_namelen@8 (socklen_t, then 4 bytes padding), msg_iov@16,
/// msg_iovlen@24 (size_t), msg_control@32, msg_controllen@40 (size_t), msg_flags@48 (then 4 bytes padding).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct MsgHdr
{
    public byte* Name;
    public uint NameLength;
    public IoVec* Iov;
    public nuint IovLength;
    public byte* Control;
    public nuint ControlLength;
    public int Flags;
}

/// <summary>struct mmsghdr { struct msghdr msg_hdr; unsigned int msg_len; } — 64 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct MMsgHdr
{
    public MsgHdr Header;
    public uint Length;
}

/// <summary>struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } — 16 bytes, data follows.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct CMsgHdr
{
    public nuint Length;
    public int Level;
    public int Type;
}

/// <summary>ip(7): struct in_pktinfo { int ipi_ifindex; struct in_addr ipi_spec_dst; struct in_addr ipi_addr; } — 12 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct InPktInfo
{
    public int InterfaceIndex;
    public uint SpecificDestination; // network byte order
    public uint Address;             // network byte order
}

/// <summary>ipv6(7) / RFC 3542 §6: struct in6_pktinfo { struct in6_addr ipi6_addr; unsigned int ipi6_ifindex; } — 20 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct In6PktInfo
{
    public fixed byte Address[16];
    public uint InterfaceIndex;
}

/// <summary>struct sockaddr_in — 16 bytes: family@0 (host order), port@2 (network order), addr@4, zero@8.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct SockAddrIn
{
    public ushort Family;
    public ushort Port;
    public uint Address;
    public fixed byte Zero[8];
}

/// <summary>struct sockaddr_in6 — 28 bytes: family@0, port@2, flowinfo@4, addr@8, scope_id@24.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct SockAddrIn6
{
    public ushort Family;
    public ushort Port;
    public uint FlowInfo;
    public fixed byte Address[16];
    public uint ScopeId;
}

/// <summary>poll(2): struct pollfd { int fd; short events; short revents; } — 8 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PollFd
{
    public int Fd;
    public short Events;
    public short ReturnedEvents;
}

/// <summary>struct timespec { time_t tv_sec; long tv_nsec; } — 16 bytes on LP64.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct TimeSpec
{
    public long Seconds;
    public long Nanoseconds;
}

internal static partial class LinuxSocketInterop
{
    private const string LibC = "libc";

    internal const int AF_INET = 2;
    internal const int AF_INET6 = 10;

    internal const int SOL_IP = 0;        // ip(7)
    internal const int IP_PKTINFO = 8;    // ip(7)
    internal const int SOL_IPV6 = 41;     // ipv6(7)
    internal const int IPV6_RECVPKTINFO = 49; // <linux/in6.h>, RFC 3542
    internal const int IPV6_PKTINFO = 50;     // <linux/in6.h>, RFC 3542
    internal const int SOL_UDP = 17;      // IPPROTO_UDP
    internal const int UDP_SEGMENT = 103; // udp(7), <linux/udp.h>: GSO segment size (u16 in a cmsg)
    internal const int UDP_GRO = 104;     // udp(7), <linux/udp.h>: GRO; cmsg carries the segment size as int

    internal const int MSG_CTRUNC = 0x08;
    internal const int MSG_TRUNC = 0x20;
    internal const int MSG_DONTWAIT = 0x40;

    internal const short POLLIN = 0x001;  // <asm-generic/poll.h>
    internal const short POLLOUT = 0x004;
    internal const short POLLERR = 0x008;
    internal const short POLLHUP = 0x010;
    internal const short POLLNVAL = 0x020;

    internal const int EFD_NONBLOCK = 0x800;    // eventfd(2): == O_NONBLOCK
    internal const int EFD_CLOEXEC = 0x80000;   // eventfd(2): == O_CLOEXEC

    internal const int EINTR = 4;
    internal const int EIO = 5;
    internal const int EAGAIN = 11;       // asm-generic/errno-base.h; EWOULDBLOCK == EAGAIN on Linux
    internal const int EWOULDBLOCK = EAGAIN;
    internal const int EINVAL = 22;
    internal const int EMSGSIZE = 90;
    internal const int ENETUNREACH = 101;
    internal const int ECONNREFUSED = 111;
    internal const int EHOSTUNREACH = 113;

    /// <summary>cmsg(3): CMSG_ALIGN rounds to sizeof(size_t).</summary>
    internal static int CmsgAlign(int length) => (length + 7) & ~7;

    /// <summary>cmsg(3): CMSG_SPACE(n) = CMSG_ALIGN(sizeof(cmsghdr)) + CMSG_ALIGN(n).</summary>
    internal static int CmsgSpace(int dataLength) => 16 + CmsgAlign(dataLength);

    /// <summary>cmsg(3): CMSG_LEN(n) = CMSG_ALIGN(sizeof(cmsghdr)) + n.</summary>
    internal static int CmsgLen(int dataLength) => 16 + dataLength;

    // sendmmsg(2): int sendmmsg(int sockfd, struct mmsghdr *msgvec, unsigned int vlen, int flags);
    [LibraryImport(LibC, EntryPoint = "sendmmsg", SetLastError = true)]
    internal static unsafe partial int SendMMsg(int fd, MMsgHdr* messages, uint count, int flags);

    // recvmmsg(2): int recvmmsg(int sockfd, struct mmsghdr *msgvec, unsigned int vlen, int flags, struct timespec *timeout);
    [LibraryImport(LibC, EntryPoint = "recvmmsg", SetLastError = true)]
    internal static unsafe partial int RecvMMsg(int fd, MMsgHdr* messages, uint count, int flags, void* timeout);

    // sendmsg(2): ssize_t sendmsg(int sockfd, const struct msghdr *msg, int flags);
    [LibraryImport(LibC, EntryPoint = "sendmsg", SetLastError = true)]
    internal static unsafe partial nint SendMsg(int fd, MsgHdr* message, int flags);

    // recvmsg(2): ssize_t recvmsg(int sockfd, struct msghdr *msg, int flags);
    [LibraryImport(LibC, EntryPoint = "recvmsg", SetLastError = true)]
    internal static unsafe partial nint RecvMsg(int fd, MsgHdr* message, int flags);

    // eventfd(2): int eventfd(unsigned int initval, int flags);
    [LibraryImport(LibC, EntryPoint = "eventfd", SetLastError = true)]
    internal static partial int EventFd(uint initialValue, int flags);

    // ppoll(2): int ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo_p, const sigset_t *sigmask);
    // Used instead of poll(2) for its nanosecond timeout: poll's milliseconds would round sub-millisecond timer
    // deadlines down to a busy 0 or up by as much as a millisecond.
    [LibraryImport(LibC, EntryPoint = "ppoll", SetLastError = true)]
    internal static unsafe partial int PPoll(PollFd* fds, nuint count, TimeSpec* timeout, void* signalMask);

    // read(2): ssize_t read(int fd, void *buf, size_t count);
    [LibraryImport(LibC, EntryPoint = "read", SetLastError = true)]
    internal static unsafe partial nint Read(int fd, void* buffer, nuint count);

    // write(2): ssize_t write(int fd, const void *buf, size_t count);
    [LibraryImport(LibC, EntryPoint = "write", SetLastError = true)]
    internal static unsafe partial nint Write(int fd, void* buffer, nuint count);

    // setsockopt(2): int setsockopt(int sockfd, int level, int optname, const void *optval, socklen_t optlen);
    // For options .NET cannot express (e.g. SO_ATTACH_REUSEPORT_CBPF/EBPF, whose values are kernel structures).
    [LibraryImport(LibC, EntryPoint = "setsockopt", SetLastError = true)]
    internal static unsafe partial int SetSockOpt(int fd, int level, int optionName, void* optionValue, uint optionLength);

    // close(2): int close(int fd);
    [LibraryImport(LibC, EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);
}

/// <summary>What a failed batched syscall means for the caller.</summary>
internal enum NativeErrorKind
{
    /// <summary>EINTR: a signal interrupted the call before any datagram moved; retry it (signal(7)).</summary>
    Retry,

    /// <summary>EAGAIN/EWOULDBLOCK with MSG_DONTWAIT: nothing to receive / send buffer full; report 0, not an error.</summary>
    WouldBlock,

    /// <summary>Anything else: surfaced as a SocketException.</summary>
    Fatal,
}

internal static class NativeErrors
{
    internal static NativeErrorKind Classify(int errno) => errno switch
    {
        LinuxSocketInterop.EINTR => NativeErrorKind.Retry,
        LinuxSocketInterop.EAGAIN => NativeErrorKind.WouldBlock, // == EWOULDBLOCK on Linux
        _ => NativeErrorKind.Fatal,
    };

    internal static System.Net.Sockets.SocketError ToSocketError(int errno) => errno switch
    {
        LinuxSocketInterop.EAGAIN => System.Net.Sockets.SocketError.WouldBlock,
        LinuxSocketInterop.EINTR => System.Net.Sockets.SocketError.Interrupted,
        LinuxSocketInterop.EINVAL => System.Net.Sockets.SocketError.InvalidArgument,
        LinuxSocketInterop.EMSGSIZE => System.Net.Sockets.SocketError.MessageSize,
        LinuxSocketInterop.ENETUNREACH => System.Net.Sockets.SocketError.NetworkUnreachable,
        LinuxSocketInterop.EHOSTUNREACH => System.Net.Sockets.SocketError.HostUnreachable,
        LinuxSocketInterop.ECONNREFUSED => System.Net.Sockets.SocketError.ConnectionRefused,
        _ => System.Net.Sockets.SocketError.SocketError,
    };
}
