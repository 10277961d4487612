using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using AspNetQuicSteer.Sockets.Interop;

namespace AspNetQuicSteer.Sockets;

/// <summary>
/// A wake-up descriptor that a loop thread waits on together with its UDP socket, so another thread can end the wait
/// at once (<see cref="Signal"/>) instead of the loop sleeping out its timeout.
/// <para>Linux: an eventfd (eventfd(2)) and one ppoll(2) over both descriptors. Elsewhere, when the libc entry points
/// are missing, or when the socket itself uses the portable path: a loopback UDP socket connected to itself, and
/// <see cref="Socket.Select(System.Collections.IList, System.Collections.IList, System.Collections.IList, int)"/>
/// over both sockets.</para>
/// <para>This type only moves the signal; deciding when a signal is needed (so that a Post while the loop is busy
/// costs no system call) is the caller's protocol, see <see cref="QuicEndpointDriver.Wake"/>.</para>
/// <see cref="Signal"/> is thread-safe and harmless after <see cref="Dispose"/>; <see cref="Wait"/> belongs to one
/// thread.
/// </summary>
internal sealed class LoopWakeup : IDisposable
{
    private readonly EventFdHandle? _eventFd;
    private readonly Socket? _wakeSocket;
    private readonly List<Socket>? _readList;
    private readonly List<Socket>? _writeList;
    private readonly byte[] _drainBuffer = new byte[8];

    private LoopWakeup(EventFdHandle eventFd) => _eventFd = eventFd;

    private LoopWakeup(Socket wakeSocket)
    {
        _wakeSocket = wakeSocket;
        _readList = new List<Socket>(2);
        _writeList = new List<Socket>(1);
    }

    /// <summary>True when the eventfd/ppoll implementation is in use.</summary>
    internal bool IsNative => _eventFd is not null;

    /// <summary>Creates the eventfd flavour when <paramref name="preferNative"/> and the platform allow it, else the portable one.</summary>
    internal static LoopWakeup Create(bool preferNative)
    {
        if (preferNative && OperatingSystem.IsLinux() && Environment.Is64BitProcess)
        {
            EventFdHandle? handle = EventFdHandle.TryCreate();
            if (handle is not null) return new LoopWakeup(handle);
        }

        return new LoopWakeup(CreateWakeSocket());
    }

    /// <summary>Makes the current or next <see cref="Wait"/> return. Signals coalesce; extra ones cost one spurious wake-up.</summary>
    internal void Signal()
    {
        if (_eventFd is not null)
        {
            _eventFd.Signal();
            return;
        }

        try
        {
            _wakeSocket!.Send(_drainBuffer.AsSpan(0, 1), SocketFlags.None);
        }
        catch (SocketException)
        {
            // WouldBlock: the socket's buffer already holds unread wake-ups, so the waiter will wake anyway.
        }
        catch (ObjectDisposedException)
        {
            // The loop is gone; nobody is left to wake.
        }
    }

    /// <summary>
    /// Waits until <paramref name="socket"/> is readable (or, with <paramref name="forSend"/>, writable), a
    /// <see cref="Signal"/>, or the timeout (−1 = none), and consumes any pending signal.
    /// Returns whether the socket reported readiness (errors count as ready so the next call surfaces them).
    /// </summary>
    internal bool Wait(Socket socket, bool forSend, int timeoutMicroseconds) =>
        _eventFd is not null ? WaitNative(socket, forSend, timeoutMicroseconds) : WaitPortable(socket, forSend, timeoutMicroseconds);

    public void Dispose()
    {
        _eventFd?.Dispose();
        _wakeSocket?.Dispose();
    }

    private unsafe bool WaitNative(Socket socket, bool forSend, int timeoutMicroseconds)
    {
        SafeHandle socketHandle = socket.SafeHandle;
        bool socketAdded = false;
        bool eventAdded = false;
        try
        {
            socketHandle.DangerousAddRef(ref socketAdded);
            _eventFd!.DangerousAddRef(ref eventAdded);
            PollFd* fds = stackalloc PollFd[2];
            fds[0] = new PollFd { Fd = (int)socketHandle.DangerousGetHandle(), Events = forSend ? LinuxSocketInterop.POLLOUT : LinuxSocketInterop.POLLIN };
            fds[1] = new PollFd { Fd = (int)_eventFd.DangerousGetHandle(), Events = LinuxSocketInterop.POLLIN };
            TimeSpec timeout = new()
            {
                Seconds = timeoutMicroseconds / 1_000_000,
                Nanoseconds = (timeoutMicroseconds % 1_000_000) * 1000L,
            };

            // ppoll(2): a null timeout waits forever; EINTR (a signal) just ends this wait early, which the loop
            // treats like any other early return.
            int ready = LinuxSocketInterop.PPoll(fds, 2, timeoutMicroseconds < 0 ? null : &timeout, null);
            if (ready <= 0) return false;
            if ((fds[1].ReturnedEvents & LinuxSocketInterop.POLLIN) != 0)
            {
                // eventfd(2): read returns the counter and resets it to 0; non-blocking, so a concurrent reset can
                // only make it EAGAIN, never hang.
                ulong counter;
                LinuxSocketInterop.Read((int)_eventFd.DangerousGetHandle(), &counter, sizeof(ulong));
            }

            const short Ready = LinuxSocketInterop.POLLERR | LinuxSocketInterop.POLLHUP | LinuxSocketInterop.POLLNVAL;
            return (fds[0].ReturnedEvents & (fds[0].Events | Ready)) != 0;
        }
        finally
        {
            if (eventAdded) _eventFd!.DangerousRelease();
            if (socketAdded) socketHandle.DangerousRelease();
        }
    }

    private bool WaitPortable(Socket socket, bool forSend, int timeoutMicroseconds)
    {
        List<Socket> read = _readList!;
        List<Socket> write = _writeList!;
        read.Clear();
        write.Clear();
        read.Add(_wakeSocket!);
        if (forSend) write.Add(socket);
        else read.Add(socket);

        // Select removes the sockets that are not ready from the lists it is given.
        Socket.Select(read, forSend ? write : null, null, timeoutMicroseconds);
        if (read.Contains(_wakeSocket!))
        {
            while (_wakeSocket!.Available > 0)
            {
                _wakeSocket.Receive(_drainBuffer);
            }
        }

        return forSend ? write.Count != 0 : read.Contains(socket);
    }

    private static Socket CreateWakeSocket()
    {
        // A datagram socket connected to itself: a Send makes it readable, and nothing else can reach it (a connected
        // UDP socket only accepts datagrams from its peer address, udp(7)).
        bool v4 = Socket.OSSupportsIPv4;
        var socket = new Socket(v4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.Bind(new IPEndPoint(v4 ? IPAddress.Loopback : IPAddress.IPv6Loopback, 0));
            socket.Connect(socket.LocalEndPoint!);
            socket.Blocking = false;
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Owns the eventfd; reference counting keeps a late <see cref="Signal"/> from writing to a recycled descriptor number.</summary>
    private sealed class EventFdHandle : SafeHandle
    {
        private EventFdHandle(int fd)
            : base(invalidHandleValue: -1, ownsHandle: true) => SetHandle(fd);

        public override bool IsInvalid => handle == -1;

        internal static EventFdHandle? TryCreate()
        {
            int fd;
            try
            {
                fd = LinuxSocketInterop.EventFd(0, LinuxSocketInterop.EFD_NONBLOCK | LinuxSocketInterop.EFD_CLOEXEC);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                return null;
            }

            return fd < 0 ? null : new EventFdHandle(fd);
        }

        internal unsafe void Signal()
        {
            bool added = false;
            try
            {
                DangerousAddRef(ref added);
                // eventfd(2): write adds to the counter; EAGAIN only if it would overflow, i.e. a wake-up is pending.
                ulong one = 1;
                LinuxSocketInterop.Write((int)handle, &one, sizeof(ulong));
            }
            catch (ObjectDisposedException)
            {
                // Disposed: the loop is gone; nobody is left to wake.
            }
            finally
            {
                if (added) DangerousRelease();
            }
        }

        protected override bool ReleaseHandle() => LinuxSocketInterop.Close((int)handle) == 0;
    }
}
