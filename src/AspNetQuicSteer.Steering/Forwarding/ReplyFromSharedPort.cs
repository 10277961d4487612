using System.Net.Sockets;
using System.Runtime.InteropServices;
using AspNetQuicSteer.Sockets;
using AspNetQuicSteer.Sockets.Interop;

namespace AspNetQuicSteer.Steering.Forwarding;

/// <summary>
/// Lets the owner of a connection answer a datagram that reached it over the forwarding socket exactly as if the
/// datagram had arrived on its own UDP socket: the reply goes out of the owner's socket bound to the shared port
/// (SO_REUSEPORT, socket(7)), to the client's original address and port, with the source address the client dialled.
/// <para>The source address matters on a wildcard bind (0.0.0.0 / ::): without guidance the kernel picks the source
/// by routing, which on a multi-address host need not be the address the client sent to — and the client's QUIC stack
/// (or a connected UDP socket, or a NAT) then discards the reply as coming from a stranger. The owner cannot learn that
/// address from its own socket, since the datagram never arrived there; it travels in the
/// <see cref="ForwardedDatagramHeader"/>, and the reply carries it back as an IP_PKTINFO (ipv6: IPV6_PKTINFO)
/// control message: "If IP_PKTINFO is passed to sendmsg(2) and ipi_spec_dst is not zero, then it is used as the local
/// source address for the routing table lookup" (ip(7); ipv6(7) / RFC 3542 §6.2 for IPv6). The source port needs no
/// help: every generation's socket is bound to the shared port.</para>
/// <para>Owners that send through a <c>BatchedUdpSocket</c> use <see cref="SetReplyAddresses"/> on a slot of their
/// send batch; this class is the one-datagram form (its own one-slot batch and one sendmsg with MSG_DONTWAIT), which
/// shares the cmsg encoding of <c>DatagramBatch</c>. Not thread-safe (one batch); allocation-free after construction.
/// The socket is not owned.</para>
/// </summary>
internal sealed unsafe class ReplyFromSharedPort
{
    private readonly Socket _socket;
    private readonly int _family;
    private readonly DatagramBatch _batch;

    /// <param name="sharedSocket">The owner's UDP socket bound to the shared port (IPv4, or IPv6/dual-mode).</param>
    /// <param name="maxDatagramSize">Largest reply to send (default: any UDP payload).</param>
    internal ReplyFromSharedPort(Socket sharedSocket, int maxDatagramSize = ForwardedDatagram.MaxPayloadLength)
    {
        ArgumentNullException.ThrowIfNull(sharedSocket);
        if (sharedSocket.SocketType != SocketType.Dgram || sharedSocket.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
        {
            throw new ArgumentException("An IPv4 or IPv6 UDP socket is required.", nameof(sharedSocket));
        }

        if (!OperatingSystem.IsLinux() || !Environment.Is64BitProcess)
        {
            throw new PlatformNotSupportedException("Choosing the source address needs sendmsg with IP_PKTINFO (Linux).");
        }

        _socket = sharedSocket;
        _family = sharedSocket.AddressFamily == AddressFamily.InterNetwork ? LinuxSocketInterop.AF_INET : LinuxSocketInterop.AF_INET6;
        _batch = new DatagramBatch(1, maxDatagramSize);
    }

    /// <summary>Replies sent.</summary>
    internal long Sent { get; private set; }

    /// <summary>Replies dropped because the socket's send buffer was full (EAGAIN).</summary>
    internal long DroppedWouldBlock { get; private set; }

    /// <summary>Replies that failed otherwise (no route, a source address that is not ours, wrong family, ...).</summary>
    internal long Failed { get; private set; }

    /// <summary>The errno of the last failed reply (diagnostics), 0 if none.</summary>
    internal int LastError { get; private set; }

    /// <summary>
    /// Points send slot <paramref name="slot"/> of <paramref name="batch"/> at the client of <paramref name="original"/>
    /// (destination) and at the address that client dialled (source, when known), so that a
    /// <c>BatchedUdpSocket.SendBatch</c> on the shared-port socket answers from the shared port and that address.
    /// </summary>
    internal static void SetReplyAddresses(DatagramBatch batch, int slot, in ForwardedDatagramHeader original)
    {
        ArgumentNullException.ThrowIfNull(batch);
        Span<byte> remote = stackalloc byte[SocketAddressCodec.MaxLength];
        int remoteLength = original.WriteRemoteSockAddr(remote);
        if (remoteLength == 0)
        {
            throw new ArgumentException("The header has no valid client address.", nameof(original));
        }

        batch.SetRemoteAddress(slot, remote[..remoteLength]);
        Span<byte> local = stackalloc byte[16];
        int localLength = original.WriteLocalAddress(local);
        // The interface index only reaches the kernel for a link-local IPv6 source, which needs it (RFC 4291 §2.5.6).
        batch.SetLocalAddress(slot, local[..localLength], (int)original.InterfaceIndex);
    }

    /// <summary>
    /// Sends <paramref name="reply"/> to the client of <paramref name="original"/> from the shared port and the address
    /// the client dialled. Never blocks; false (counted) when the send buffer is full or the send fails.
    /// </summary>
    internal bool TrySend(ReadOnlySpan<byte> reply, in ForwardedDatagramHeader original)
    {
        if (reply.Length > _batch.SlotSize)
        {
            throw new ArgumentException($"The reply is longer than {_batch.SlotSize} bytes.", nameof(reply));
        }

        if (!original.IsValid)
        {
            return Fail(LinuxSocketInterop.EINVAL);
        }

        reply.CopyTo(_batch.GetBuffer(0));
        _batch.SetLength(0, reply.Length);
        SetReplyAddresses(_batch, 0, original);
        Span<byte> probe = stackalloc byte[SocketAddressCodec.MaxLength];
        if (SocketAddressCodec.WriteForFamily(_batch.GetRemoteAddress(0), _family, probe) == 0)
        {
            return Fail(LinuxSocketInterop.EINVAL); // an IPv6 client cannot be reached through an IPv4 socket
        }

        SafeHandle handle = _socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            int fd = (int)handle.DangerousGetHandle();
            _batch.PrepareSend(0, 1, _family, maxSegments: 1, BatchedUdpSocket.MaxGsoBytes, sourceAddresses: true);
            while (true)
            {
                if (LinuxSocketInterop.SendMsg(fd, &_batch.Headers->Header, LinuxSocketInterop.MSG_DONTWAIT) >= 0)
                {
                    Sent++;
                    return true;
                }

                int errno = Marshal.GetLastPInvokeError();
                switch (NativeErrors.Classify(errno))
                {
                    case NativeErrorKind.Retry:
                        continue;
                    case NativeErrorKind.WouldBlock:
                        DroppedWouldBlock++;
                        return false;
                    default:
                        return Fail(errno);
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
    }

    private bool Fail(int errno)
    {
        LastError = errno;
        Failed++;
        return false;
    }
}
