using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using AspNetQuicSteer.Sockets.Interop;

namespace AspNetQuicSteer.Sockets;

/// <summary>
/// Moves batches of UDP datagrams through a bound <see cref="System.Net.Sockets.Socket"/>.
/// <para>Linux (64-bit): one non-blocking <c>recvmmsg</c>/<c>sendmmsg</c> per batch (recvmmsg(2), sendmmsg(2)),
/// optional UDP GSO/GRO (udp(7)), and IP_PKTINFO/IPV6_PKTINFO both ways (ip(7), ipv6(7)), without allocating.</para>
/// <para>Elsewhere, or with <see cref="BatchedUdpSocketOptions.ForcePortable"/>: the same API over
/// <see cref="Socket.ReceiveMessageFrom(Span{byte}, ref SocketFlags, ref EndPoint, out IPPacketInformation)"/> and
/// <see cref="Socket.SendTo(ReadOnlySpan{byte}, SocketFlags, SocketAddress)"/>, one datagram per call. That path
/// cannot choose the source address (the Socket API has no sendmsg control messages) and its receive allocates an
/// endpoint per datagram.</para>
/// <para>Readiness: <see cref="WaitForReceive"/> / <see cref="WaitForSend"/> block in poll(2) via
/// <see cref="Socket.Poll(int, SelectMode)"/> with a timeout. An async zero-byte receive is not an option for UDP: it
/// would consume (and truncate) a datagram instead of just signalling readiness. The intended model is a dedicated
/// I/O thread per socket that alternates poll and batch calls — no busy loop, no per-wait allocation. A loop that
/// must also be woken by other threads waits through <see cref="LoopWakeup"/> instead (socket + eventfd).</para>
/// Not thread-safe: one receiving thread and one sending thread at most, each with its own batch.
/// </summary>
internal sealed class BatchedUdpSocket : IDisposable
{
    /// <summary>udp(7)/kernel UDP_MAX_SEGMENTS: at most 64 segments per GSO send.</summary>
    internal const int MaxGsoSegments = 64;

    /// <summary>
    /// Largest UDP payload of one IPv4 datagram: 65535 − 20 (IPv4 header) − 8 (UDP header) (RFC 791, RFC 768).
    /// A GSO send is one such super-datagram before segmentation, so its total payload must fit.
    /// </summary>
    internal const int MaxGsoBytes = 65507;

    private readonly SocketAddress? _portableV4;
    private readonly SocketAddress? _portableV6;
    private readonly int _family;
    private EndPoint _portableRemote;
    private bool _disposed;

    internal BatchedUdpSocket(Socket socket, BatchedUdpSocketOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (socket.SocketType != SocketType.Dgram || socket.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
        {
            throw new ArgumentException("An IPv4 or IPv6 datagram socket is required.", nameof(socket));
        }

        options ??= new BatchedUdpSocketOptions();
        Socket = socket;
        _family = socket.AddressFamily == AddressFamily.InterNetwork ? LinuxSocketInterop.AF_INET : LinuxSocketInterop.AF_INET6;
        // The struct layouts in LinuxSocketInterop are the LP64 Linux ones.
        IsNative = OperatingSystem.IsLinux() && Environment.Is64BitProcess && !options.ForcePortable;
        _portableRemote = new IPEndPoint(socket.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0);

        if (options.ReceivePacketInformation)
        {
            PacketInformationEnabled = IsNative ? TryEnablePacketInformation() : true; // ReceiveMessageFrom enables it itself
        }

        if (IsNative)
        {
            // udp(7): setting UDP_SEGMENT to 0 (no default segmentation) only succeeds on kernels that know GSO (4.18+).
            GsoEnabled = options.EnableGso && TrySetUdpOption(LinuxSocketInterop.UDP_SEGMENT, 0);
            // udp(7): UDP_GRO (5.0+) makes the kernel hand over coalesced segments plus a UDP_GRO cmsg.
            GroEnabled = options.EnableGro && TrySetUdpOption(LinuxSocketInterop.UDP_GRO, 1);
        }
        else
        {
            _portableV4 = new SocketAddress(AddressFamily.InterNetwork, SocketAddressCodec.IPv4Length);
            _portableV6 = new SocketAddress(AddressFamily.InterNetworkV6, SocketAddressCodec.IPv6Length);
            // Non-blocking so a full send buffer reports "0 sent" instead of stalling, like the native path.
            socket.Blocking = false;
        }
    }

    /// <summary>The wrapped socket (bound by the caller).</summary>
    internal Socket Socket { get; }

    /// <summary>True when the Linux recvmmsg/sendmmsg path is in use.</summary>
    internal bool IsNative { get; }

    /// <summary>True when sends may be coalesced with UDP_SEGMENT. Cleared if the kernel later refuses GSO (EIO).</summary>
    internal bool GsoEnabled { get; private set; }

    /// <summary>True when the kernel may deliver several segments per slot (UDP_GRO).</summary>
    internal bool GroEnabled { get; }

    /// <summary>True when received slots carry their destination address.</summary>
    internal bool PacketInformationEnabled { get; }

    /// <summary>Number of send system calls made (diagnostics: shows batching and GSO at work).</summary>
    internal long SendCalls { get; private set; }

    /// <summary>
    /// Number of messages (msghdr entries) the kernel accepted: equals datagrams sent without GSO, fewer with it
    /// (diagnostics).
    /// </summary>
    internal long SendMessages { get; private set; }

    /// <summary>Number of receive system calls made that returned data or EAGAIN.</summary>
    internal long ReceiveCalls { get; private set; }

    /// <summary>Waits up to <paramref name="timeoutMicroseconds"/> (−1 = forever) until a datagram can be received.</summary>
    internal bool WaitForReceive(int timeoutMicroseconds) => Socket.Poll(timeoutMicroseconds, SelectMode.SelectRead);

    /// <summary>Waits up to <paramref name="timeoutMicroseconds"/> (−1 = forever) until the send buffer has room.</summary>
    internal bool WaitForSend(int timeoutMicroseconds) => Socket.Poll(timeoutMicroseconds, SelectMode.SelectWrite);

    /// <summary>
    /// Receives up to <see cref="DatagramBatch.Capacity"/> datagrams without blocking into slots 0..n−1 and returns n
    /// (0 when none is queued). With GRO a slot may hold several segments; see <see cref="DatagramBatch.GetSegment"/>.
    /// </summary>
    internal int ReceiveBatch(DatagramBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (GroEnabled && batch.SlotSize < DatagramBatch.GroSlotSize)
        {
            throw new ArgumentException($"With UDP_GRO enabled, receive slots must hold {DatagramBatch.GroSlotSize} bytes.", nameof(batch));
        }

        return IsNative ? ReceiveNative(batch) : ReceivePortable(batch);
    }

    /// <summary>Sends slots 0..count−1; returns how many were handed to the kernel (fewer when the send buffer fills).</summary>
    internal int SendBatch(DatagramBatch batch, int count) => SendBatch(batch, 0, count);

    /// <summary>Sends slots start..start+count−1; returns how many (from <paramref name="start"/>) were handed to the kernel.</summary>
    internal int SendBatch(DatagramBatch batch, int start, int count)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(start + count, batch.Capacity, nameof(count));
        if (count == 0)
        {
            return 0;
        }

        return IsNative ? SendNative(batch, start, count) : SendPortable(batch, start, count);
    }

    /// <summary>Disposes the wrapped socket: the wrapper owns it (and may have changed its options and blocking mode).</summary>
    public void Dispose()
    {
        _disposed = true;
        Socket.Dispose();
    }

    private unsafe int ReceiveNative(DatagramBatch batch)
    {
        int capacity = batch.Capacity;
        batch.PrepareReceive(capacity);
        SafeHandle handle = Socket.SafeHandle;
        bool added = false;
        int received;
        try
        {
            handle.DangerousAddRef(ref added);
            int fd = (int)handle.DangerousGetHandle();
            while (true)
            {
                MMsgHdr* headers = batch.Headers;
                if (capacity == 1)
                {
                    // recvmsg(2) returns the byte count; a zero-length datagram is a valid 0.
                    nint bytes = LinuxSocketInterop.RecvMsg(fd, &headers->Header, LinuxSocketInterop.MSG_DONTWAIT);
                    received = bytes < 0 ? -1 : 1;
                    if (bytes >= 0)
                    {
                        headers->Length = (uint)bytes;
                    }
                }
                else
                {
                    // recvmmsg(2) with MSG_DONTWAIT returns what is queued (up to vlen); an error after some
                    // datagrams is reported by the next call.
                    received = LinuxSocketInterop.RecvMMsg(fd, headers, (uint)capacity, LinuxSocketInterop.MSG_DONTWAIT, null);
                }

                if (received >= 0)
                {
                    break;
                }

                int errno = Marshal.GetLastPInvokeError();
                switch (NativeErrors.Classify(errno))
                {
                    case NativeErrorKind.Retry:
                        continue;
                    case NativeErrorKind.WouldBlock:
                        ReceiveCalls++;
                        return 0;
                    default:
                        throw new SocketException((int)NativeErrors.ToSocketError(errno));
                }
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }

        ReceiveCalls++;
        batch.CompleteReceive(received);
        return received;
    }

    private unsafe int SendNative(DatagramBatch batch, int start, int count)
    {
        SafeHandle handle = Socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            int fd = (int)handle.DangerousGetHandle();
            bool segmentThisCall = true;
            while (true)
            {
                bool gso = GsoEnabled && segmentThisCall;
                int entries = batch.PrepareSend(start, count, _family, gso ? MaxGsoSegments : 1, MaxGsoBytes, sourceAddresses: true);
                MMsgHdr* headers = batch.Headers;
                int sent;
                if (entries == 1)
                {
                    sent = LinuxSocketInterop.SendMsg(fd, &headers->Header, LinuxSocketInterop.MSG_DONTWAIT) < 0 ? -1 : 1;
                }
                else
                {
                    // sendmmsg(2): returns the number of messages sent; -1 only if the first one failed.
                    sent = LinuxSocketInterop.SendMMsg(fd, headers, (uint)entries, LinuxSocketInterop.MSG_DONTWAIT);
                }

                SendCalls++;
                if (sent > 0)
                {
                    SendMessages += sent;
                    return batch.EntryEnd(sent - 1) - start;
                }

                if (sent == 0)
                {
                    return 0;
                }

                int errno = Marshal.GetLastPInvokeError();
                switch (NativeErrors.Classify(errno))
                {
                    case NativeErrorKind.Retry:
                        continue;
                    case NativeErrorKind.WouldBlock:
                        return 0;
                }

                if (gso && errno == LinuxSocketInterop.EIO)
                {
                    // udp(7)/udp_send_skb(): GSO needs checksum offload on the egress device; without it the send
                    // fails with EIO. Stop segmenting on this socket and resend the same slots one by one.
                    GsoEnabled = false;
                    continue;
                }

                if (gso && errno is LinuxSocketInterop.EINVAL or LinuxSocketInterop.EMSGSIZE)
                {
                    // udp_send_skb(): a segment larger than the path MTU (gso_size + headers > fragsize) is EINVAL,
                    // an oversized super-datagram EMSGSIZE. Retry this call unsegmented so the error, if it
                    // persists, is the datagram's own; GSO stays on for later batches.
                    segmentThisCall = false;
                    continue;
                }

                throw new SocketException((int)NativeErrors.ToSocketError(errno));
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    private int ReceivePortable(DatagramBatch batch)
    {
        int received = 0;
        Span<byte> address = stackalloc byte[16];
        while (received < batch.Capacity && Socket.Poll(0, SelectMode.SelectRead))
        {
            SocketFlags flags = SocketFlags.None;
            int length;
            IPPacketInformation info;
            try
            {
                length = Socket.ReceiveMessageFrom(batch.GetBuffer(received), ref flags, ref _portableRemote, out info);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.Interrupted)
            {
                break;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.MessageSize)
            {
                // Windows reports truncation as an error; Linux sets MSG_TRUNC (flags).
                length = batch.SlotSize;
                flags |= SocketFlags.Truncated;
                info = default;
            }

            ReceiveCalls++;
            batch.SetReceiveMetadata(received, length, 0, (flags & SocketFlags.Truncated) != 0);
            batch.SetRemoteEndPoint(received, (IPEndPoint)_portableRemote);
            if (PacketInformationEnabled && info.Address is not null)
            {
                info.Address.TryWriteBytes(address, out int written);
                batch.SetReceivedLocal(received, address[..written], info.Interface);
            }
            else
            {
                batch.ClearLocalAddress(received);
            }

            received++;
        }

        return received;
    }

    private int SendPortable(DatagramBatch batch, int start, int count)
    {
        for (int i = 0; i < count; i++)
        {
            int slot = start + i;
            SocketAddress target = FillPortableAddress(batch.GetRemoteAddress(slot), slot);
            try
            {
                Socket.SendTo(batch.GetDatagram(slot), SocketFlags.None, target);
                SendCalls++;
                SendMessages++;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.Interrupted)
            {
                return i;
            }
        }

        return count;
    }

    /// <summary>
    /// Copies the canonical sockaddr into a cached <see cref="SocketAddress"/>. Port/address offsets of sockaddr_in
    /// (2, 4) and sockaddr_in6 (2, 8, scope 24) are the same on Linux, Windows and the BSDs; the family field, whose
    /// encoding differs, was written by the SocketAddress constructor.
    /// </summary>
    private SocketAddress FillPortableAddress(ReadOnlySpan<byte> sockaddr, int slot)
    {
        Span<byte> normalized = stackalloc byte[SocketAddressCodec.MaxLength];
        int length = SocketAddressCodec.WriteForFamily(sockaddr, _family, normalized);
        if (length == 0)
        {
            throw new InvalidOperationException($"Slot {slot} has no destination usable on this socket's address family.");
        }

        if (_family == LinuxSocketInterop.AF_INET)
        {
            Span<byte> buffer = _portableV4!.Buffer.Span;
            normalized.Slice(2, 6).CopyTo(buffer[2..]);
            return _portableV4;
        }

        Span<byte> buffer6 = _portableV6!.Buffer.Span;
        normalized.Slice(2, 22).CopyTo(buffer6[2..]);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer6[24..], 0);
        uint scope = SocketAddressCodec.ReadHostUInt32(normalized[24..]);
        if (BitConverter.IsLittleEndian)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(buffer6[24..], scope);
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(buffer6[24..], scope);
        }

        return _portableV6;
    }

    private bool TryEnablePacketInformation()
    {
        try
        {
            if (_family == LinuxSocketInterop.AF_INET)
            {
                // ip(7): IP_PKTINFO delivers struct in_pktinfo with the header destination address.
                Socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.PacketInformation, true);
            }
            else
            {
                // ipv6(7)/RFC 3542 §6.1: IPV6_RECVPKTINFO; for IPv4 on a dual-mode socket the kernel reports the
                // destination as an IPv4-mapped in6_pktinfo.
                Socket.SetRawSocketOption(LinuxSocketInterop.SOL_IPV6, LinuxSocketInterop.IPV6_RECVPKTINFO, OptionValue(1));
            }

            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private bool TrySetUdpOption(int name, int value)
    {
        try
        {
            Socket.SetRawSocketOption(LinuxSocketInterop.SOL_UDP, name, OptionValue(value));
            return true;
        }
        catch (SocketException)
        {
            return false; // ENOPROTOOPT on kernels without GSO/GRO
        }
    }

    private static byte[] OptionValue(int value) => BitConverter.GetBytes(value);
}
