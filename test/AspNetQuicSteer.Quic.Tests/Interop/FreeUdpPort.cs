using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace AspNetQuicSteer.Quic.Tests.Interop;

/// <summary>Loopback UDP ports for peer servers.</summary>
internal static class FreeUdpPort
{
    /// <summary>
    /// A UDP port free on the loopback address of <paramref name="family"/> at the time of the call: binds
    /// 127.0.0.1:0 (or [::1]:0), reads the port, closes. (Another process may take it before it is used.)
    /// </summary>
    public static int GetLoopbackPort(AddressFamily family = AddressFamily.InterNetwork)
    {
        IPAddress address = family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback;
        using Socket socket = new(family, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(address, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>True when some socket is bound to UDP <paramref name="port"/> (any address), per /proc/net/udp{,6}.</summary>
    public static bool IsBound(int port)
    {
        string hexPort = ":" + port.ToString("X4", CultureInfo.InvariantCulture);
        foreach (string table in new[] { "/proc/net/udp", "/proc/net/udp6" })
        {
            if (!File.Exists(table))
            {
                continue;
            }

            foreach (string line in File.ReadLines(table).Skip(1))
            {
                // "  sl  local_address rem_address ..." -> "0100007F:3861 00000000:0000 07 ..."
                string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length > 1 && fields[1].EndsWith(hexPort, StringComparison.Ordinal))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>
    /// Waits until a peer server has bound UDP <paramref name="port"/> (peers such as gtlsserver print
    /// nothing when ready); throws <see cref="TimeoutException"/> with the server's output otherwise.
    /// </summary>
    public static async Task WaitUntilBoundAsync(int port, TimeSpan timeout, PeerProcess? server = null)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (!IsBound(port))
        {
            if (server is { HasExited: true })
            {
                throw new InvalidOperationException($"{server} exited before binding UDP port {port}.\n{server.Describe()}");
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException(
                    $"Nothing bound UDP port {port} within {timeout.TotalSeconds:0.###} s.\n{server?.Describe()}");
            }

            await Task.Delay(10).ConfigureAwait(false);
        }
    }
}
