using System.Runtime.InteropServices;
using AspNetQuicSteer.Sockets.Interop;

namespace AspNetQuicSteer.Sockets.Tests;

public sealed class NativeLayoutTests
{
    // Linux x86-64 sizes and offsets (glibc <bits/socket.h>, <netinet/in.h>).
    [Fact]
    public unsafe void StructSizesMatchLinuxLp64()
    {
        Assert.Equal(16, sizeof(IoVec));
        Assert.Equal(56, sizeof(MsgHdr));
        Assert.Equal(64, sizeof(MMsgHdr));
        Assert.Equal(16, sizeof(CMsgHdr));
        Assert.Equal(12, sizeof(InPktInfo));
        Assert.Equal(20, sizeof(In6PktInfo));
        Assert.Equal(16, sizeof(SockAddrIn));
        Assert.Equal(28, sizeof(SockAddrIn6));
        Assert.Equal(8, sizeof(PollFd));    // poll(2): int fd; short events; short revents;
        Assert.Equal(16, sizeof(TimeSpec)); // time_t tv_sec; long tv_nsec;
    }

    [Fact]
    public void MsgHdrFieldOffsetsMatchLinuxLp64()
    {
        Assert.Equal(0, (int)Marshal.OffsetOf<MsgHdr>(nameof(MsgHdr.Name)));
        Assert.Equal(8, (int)Marshal.OffsetOf<MsgHdr>(nameof(MsgHdr.NameLength)));
        Assert.Equal(16, (int)Marshal.OffsetOf<MsgHdr>(nameof(MsgHdr.Iov)));
        Assert.Equal(24, (int)Marshal.OffsetOf<MsgHdr>(nameof(MsgHdr.IovLength)));
        Assert.Equal(32, (int)Marshal.OffsetOf<MsgHdr>(nameof(MsgHdr.Control)));
        Assert.Equal(40, (int)Marshal.OffsetOf<MsgHdr>(nameof(MsgHdr.ControlLength)));
        Assert.Equal(48, (int)Marshal.OffsetOf<MsgHdr>(nameof(MsgHdr.Flags)));
        Assert.Equal(56, (int)Marshal.OffsetOf<MMsgHdr>(nameof(MMsgHdr.Length)));
        Assert.Equal(4, (int)Marshal.OffsetOf<InPktInfo>(nameof(InPktInfo.SpecificDestination)));
        Assert.Equal(8, (int)Marshal.OffsetOf<InPktInfo>(nameof(InPktInfo.Address)));
        Assert.Equal(16, (int)Marshal.OffsetOf<In6PktInfo>(nameof(In6PktInfo.InterfaceIndex)));
        Assert.Equal(24, (int)Marshal.OffsetOf<SockAddrIn6>(nameof(SockAddrIn6.ScopeId)));
        Assert.Equal(4, (int)Marshal.OffsetOf<PollFd>(nameof(PollFd.Events)));
        Assert.Equal(6, (int)Marshal.OffsetOf<PollFd>(nameof(PollFd.ReturnedEvents)));
        Assert.Equal(8, (int)Marshal.OffsetOf<TimeSpec>(nameof(TimeSpec.Nanoseconds)));
    }

    [Fact]
    public void CmsgMacrosMatchLinux()
    {
        // CMSG_SPACE(sizeof(u16)) = 24, CMSG_SPACE(sizeof(in_pktinfo)) = 32, CMSG_SPACE(sizeof(in6_pktinfo)) = 40.
        Assert.Equal(24, LinuxSocketInterop.CmsgSpace(2));
        Assert.Equal(32, LinuxSocketInterop.CmsgSpace(12));
        Assert.Equal(40, LinuxSocketInterop.CmsgSpace(20));
        Assert.Equal(18, LinuxSocketInterop.CmsgLen(2));
    }

    [Theory]
    [InlineData(11, (int)NativeErrorKind.WouldBlock)] // EAGAIN == EWOULDBLOCK
    [InlineData(4, (int)NativeErrorKind.Retry)]       // EINTR
    [InlineData(111, (int)NativeErrorKind.Fatal)]     // ECONNREFUSED
    [InlineData(90, (int)NativeErrorKind.Fatal)]      // EMSGSIZE
    public void ErrnoClassification(int errno, int expected) =>
        Assert.Equal((NativeErrorKind)expected, NativeErrors.Classify(errno));

    [Fact]
    public void ErrnoMapsToSocketError()
    {
        Assert.Equal(System.Net.Sockets.SocketError.ConnectionRefused, NativeErrors.ToSocketError(111));
        Assert.Equal(System.Net.Sockets.SocketError.MessageSize, NativeErrors.ToSocketError(90));
        Assert.Equal(System.Net.Sockets.SocketError.WouldBlock, NativeErrors.ToSocketError(LinuxSocketInterop.EWOULDBLOCK));
    }
}
