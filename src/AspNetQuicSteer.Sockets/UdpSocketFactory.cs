using System.Net;
using System.Net.Sockets;

namespace AspNetQuicSteer.Sockets;

/// <summary>Creates bound UDP sockets for listeners.</summary>
internal static class UdpSocketFactory
{
    private const int SolSocket = 1;    // <asm-generic/socket.h>
    private const int SoReusePort = 15; // <asm-generic/socket.h>

    /// <summary>
    /// Creates a UDP socket of <paramref name="endPoint"/>'s family, sizes its buffers and binds it.
    /// <para><see cref="IPAddress.IPv6Any"/> gets a dual-mode socket (IPV6_V6ONLY off, ipv6(7)), so one socket serves
    /// IPv4 peers as IPv4-mapped addresses (RFC 4291 §2.5.5.2) as well as IPv6 peers.</para>
    /// <para>Buffer sizes are best effort: Linux silently caps them at net.core.rmem_max / wmem_max (socket(7)), and a
    /// platform that refuses the value keeps its default. A value of 0 or less keeps the default.</para>
    /// A failing bind (e.g. <see cref="SocketError.AddressAlreadyInUse"/>) throws its <see cref="SocketException"/>
    /// after disposing the socket; the caller reports it.
    /// <para><paramref name="reusePort"/> sets SO_REUSEPORT before bind (socket(7)): the socket joins the port's
    /// reuseport group, which the steering dataplanes program. Not <see cref="SocketOptionName.ReuseAddress"/>: .NET on
    /// Linux maps that to SO_REUSEADDR and SO_REUSEPORT together (PLATFORM.md).</para>
    /// </summary>
    internal static Socket Bind(IPEndPoint endPoint, int receiveBufferSize, int sendBufferSize, bool reusePort = false)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        var socket = new Socket(endPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (endPoint.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }

            if (receiveBufferSize > 0)
            {
                TrySetBufferSize(socket, SocketOptionName.ReceiveBuffer, receiveBufferSize);
            }

            if (sendBufferSize > 0)
            {
                TrySetBufferSize(socket, SocketOptionName.SendBuffer, sendBufferSize);
            }

            if (reusePort)
            {
                socket.SetRawSocketOption(SolSocket, SoReusePort, BitConverter.GetBytes(1));
            }

            socket.Bind(endPoint);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static void TrySetBufferSize(Socket socket, SocketOptionName option, int size)
    {
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, option, size);
        }
        catch (SocketException)
        {
            // Best effort: a smaller buffer costs drops under bursts, not correctness (QUIC recovers from loss).
        }
    }
}
