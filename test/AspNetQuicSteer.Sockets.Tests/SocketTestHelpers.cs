using System.Net;
using System.Net.Sockets;

namespace AspNetQuicSteer.Sockets.Tests;

internal static class SocketTestHelpers
{
    internal static Socket Bind(IPAddress address, bool dualMode = false)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        if (dualMode)
        {
            socket.DualMode = true;
        }

        socket.ReceiveBufferSize = 4 * 1024 * 1024;
        socket.Bind(new IPEndPoint(address, 0));
        return socket;
    }

    internal static BatchedUdpSocket Create(IPAddress address, bool portable, bool dualMode = false, bool gso = true, bool gro = false) =>
        new(Bind(address, dualMode), new BatchedUdpSocketOptions { ForcePortable = portable, EnableGso = gso, EnableGro = gro });

    internal static IPEndPoint LocalEndPoint(BatchedUdpSocket socket) => (IPEndPoint)socket.Socket.LocalEndPoint!;

    /// <summary>Payload i: length and content depend on i and a seed, so reordering or corruption is visible.</summary>
    internal static byte[] Payload(int i, int length, int seed = 0)
    {
        var bytes = new byte[length];
        for (int k = 0; k < length; k++)
        {
            bytes[k] = (byte)((i * 31) + (k * 7) + seed);
        }

        return bytes;
    }

    /// <summary>Receives into <paramref name="batch"/> repeatedly until <paramref name="datagrams"/> datagrams (counting GRO segments) arrived; bounded by 5 s.</summary>
    internal static List<(byte[] Payload, IPEndPoint Remote, IPAddress? Local, int SegmentsInSlot)> ReceiveAll(BatchedUdpSocket socket, DatagramBatch batch, int datagrams)
    {
        var result = new List<(byte[], IPEndPoint, IPAddress?, int)>();
        long deadline = Environment.TickCount64 + 5000;
        while (result.Count < datagrams && Environment.TickCount64 < deadline)
        {
            if (!socket.WaitForReceive(100_000))
            {
                continue;
            }

            int n = socket.ReceiveBatch(batch);
            for (int slot = 0; slot < n; slot++)
            {
                int segments = batch.GetSegmentCount(slot);
                for (int s = 0; s < segments; s++)
                {
                    result.Add((batch.GetSegment(slot, s).ToArray(), batch.GetRemoteEndPoint(slot), batch.GetLocalIPAddress(slot), segments));
                }
            }
        }

        return result;
    }

    internal static IPAddress Unmap(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
