using System.Net;
using System.Net.Sockets;

namespace AspNetQuicSteer.Kestrel.Tests.Hosting;

/// <summary>
/// A loopback port free for both TCP and UDP. HTTP/3 endpoints need a fixed port (Kestrel skips HTTP/3 for port 0 with
/// several protocols, KESTREL.md §3), so tests pick one at run time instead of hard-coding it.
/// </summary>
internal static class FreeTcpUdpPort
{
    public static int GetLoopbackPort()
    {
        for (int attempt = 0; attempt < 50; attempt++)
        {
            using Socket udp = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            int port = ((IPEndPoint)udp.LocalEndPoint!).Port;

            // The kernel picked a free UDP port; the same number may be taken for TCP (they are separate spaces).
            using Socket tcp = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                tcp.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException)
            {
            }
        }

        throw new InvalidOperationException("No loopback port free for both TCP and UDP after 50 attempts.");
    }
}
