using System.Net.Sockets;
using System.Runtime.InteropServices;
using AspNetQuicSteer.Sockets.Interop;

namespace AspNetQuicSteer.Sockets;

/// <summary>
/// Passes listening sockets (the shared UDP socket, Kestrel's TCP listener) from one process to another over a
/// connected AF_UNIX socket as SCM_RIGHTS ancillary data (unix(7)), with a small description payload. The receiver
/// gets new descriptors for the same open sockets: bound addresses, options, queued datagrams and pending TCP
/// connections carry over, which is what lets a new generation take over without rebinding (and without
/// SO_REUSEPORT). Linux only.
/// </summary>
internal static class SocketHandoff
{
    private const int SolSocket = 1;   // <asm-generic/socket.h>
    private const int ScmRights = 1;   // <bits/socket.h>
    private const int MsgCmsgCloexec = 0x40000000; // recvmsg(2): received descriptors get FD_CLOEXEC
    private const int MsgCtrunc = 0x8; // recvmsg(2): control data was truncated (descriptors were dropped)

    /// <summary>At most this many sockets per message (the kernel's SCM_MAX_FD is 253).</summary>
    public const int MaxSockets = 64;

    /// <summary>
    /// Sends <paramref name="sockets"/>' descriptors and <paramref name="description"/> (at least one byte: a
    /// stream socket cannot carry ancillary data alone) in one sendmsg(2).
    /// </summary>
    public static void Send(Socket channel, ReadOnlySpan<byte> description, IReadOnlyList<Socket> sockets)
    {
        ArgumentNullException.ThrowIfNull(sockets);
        if (sockets.Count is 0 or > MaxSockets) throw new ArgumentOutOfRangeException(nameof(sockets), $"1 to {MaxSockets} sockets per handoff.");
        Span<int> descriptors = stackalloc int[sockets.Count];
        for (int i = 0; i < sockets.Count; i++) descriptors[i] = (int)sockets[i].Handle;
        SendDescriptors(channel, description, descriptors);
        GC.KeepAlive(sockets);
    }

    /// <summary>
    /// Sends raw descriptors (sockets, but also e.g. bpf map fds) and <paramref name="description"/> in one
    /// sendmsg(2). The caller keeps its descriptors open until this returns; the kernel duplicates them.
    /// </summary>
    public static unsafe void SendDescriptors(Socket channel, ReadOnlySpan<byte> description, ReadOnlySpan<int> descriptors)
    {
        ArgumentNullException.ThrowIfNull(channel);
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("Socket handoff (SCM_RIGHTS) is implemented for Linux.");
        if (description.IsEmpty) throw new ArgumentException("The description must not be empty.", nameof(description));
        if (descriptors.Length > MaxSockets) throw new ArgumentOutOfRangeException(nameof(descriptors), $"At most {MaxSockets} descriptors per handoff.");

        int dataLength = descriptors.Length * sizeof(int);
        int controlLength = descriptors.IsEmpty ? 0 : LinuxSocketInterop.CmsgSpace(dataLength);
        byte* control = stackalloc byte[Math.Max(controlLength, 1)];
        if (controlLength > 0)
        {
            new Span<byte>(control, controlLength).Clear();
            var header = (CMsgHdr*)control;
            header->Length = (nuint)LinuxSocketInterop.CmsgLen(dataLength);
            header->Level = SolSocket;
            header->Type = ScmRights;
            descriptors.CopyTo(new Span<int>(control + sizeof(CMsgHdr), descriptors.Length));
        }

        fixed (byte* payload = description)
        {
            var iov = new IoVec { Base = payload, Length = (nuint)description.Length };
            var message = new MsgHdr { Iov = &iov, IovLength = 1, Control = controlLength > 0 ? control : null, ControlLength = (nuint)controlLength };
            nint sent = LinuxSocketInterop.SendMsg((int)channel.Handle, &message, 0);
            if (sent < 0) throw new SocketException(Marshal.GetLastPInvokeError());
            if (sent != description.Length) throw new IOException($"Socket handoff sent {sent} of {description.Length} description bytes.");
        }
    }

    /// <summary>
    /// Receives one handoff: the description bytes and the passed sockets (owning their new descriptors). Throws
    /// when the peer closed the channel or when descriptors were dropped (MSG_CTRUNC), closing any that arrived.
    /// </summary>
    public static (byte[] Description, Socket[] Sockets) Receive(Socket channel, int maxDescriptionLength = 4096)
    {
        (byte[] description, int[] descriptors) = ReceiveDescriptors(channel, maxDescriptionLength);
        return (description, [.. descriptors.Select(static fd => new Socket(new SafeSocketHandle(fd, ownsHandle: true)))]);
    }

    /// <summary>
    /// Receives one handoff as raw descriptors (the caller owns and must close them): for descriptors that are not
    /// sockets, such as bpf map fds. Throws like <see cref="Receive"/>.
    /// </summary>
    public static unsafe (byte[] Description, int[] Descriptors) ReceiveDescriptors(Socket channel, int maxDescriptionLength = 4096)
    {
        ArgumentNullException.ThrowIfNull(channel);
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("Socket handoff (SCM_RIGHTS) is implemented for Linux.");
        int controlLength = LinuxSocketInterop.CmsgSpace(MaxSockets * sizeof(int));
        byte* control = stackalloc byte[controlLength];
        byte[] buffer = new byte[maxDescriptionLength];
        fixed (byte* payload = buffer)
        {
            var iov = new IoVec { Base = payload, Length = (nuint)buffer.Length };
            var message = new MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = (nuint)controlLength };
            nint received;
            do
            {
                received = LinuxSocketInterop.RecvMsg((int)channel.Handle, &message, MsgCmsgCloexec);
            }
            while (received < 0 && Marshal.GetLastPInvokeError() == 4); // EINTR

            if (received < 0) throw new SocketException(Marshal.GetLastPInvokeError());
            List<int> descriptors = TakeDescriptors(control, (int)message.ControlLength);
            if (received == 0 || (message.Flags & MsgCtrunc) != 0)
            {
                foreach (int fd in descriptors) LinuxSocketInterop.Close(fd);
                throw new IOException(received == 0
                    ? "The handoff channel closed before a handoff arrived."
                    : "The handoff's descriptors were truncated (MSG_CTRUNC); the sender passed too many sockets.");
            }

            return (buffer.AsSpan(0, (int)received).ToArray(), [.. descriptors]);
        }
    }

    /// <summary>Walks the control buffer (cmsg(3)) and collects every SCM_RIGHTS descriptor.</summary>
    private static unsafe List<int> TakeDescriptors(byte* control, int length)
    {
        var sockets = new List<int>();
        int offset = 0;
        while (offset + sizeof(CMsgHdr) <= length)
        {
            var header = (CMsgHdr*)(control + offset);
            int cmsgLength = (int)header->Length;
            if (cmsgLength < sizeof(CMsgHdr) || offset + cmsgLength > length) break;
            if (header->Level == SolSocket && header->Type == ScmRights)
            {
                int count = (cmsgLength - sizeof(CMsgHdr)) / sizeof(int);
                int* descriptors = (int*)(control + offset + sizeof(CMsgHdr));
                for (int i = 0; i < count; i++) sockets.Add(descriptors[i]);
            }

            offset += LinuxSocketInterop.CmsgSpace(cmsgLength - sizeof(CMsgHdr));
        }

        return sockets;
    }
}
