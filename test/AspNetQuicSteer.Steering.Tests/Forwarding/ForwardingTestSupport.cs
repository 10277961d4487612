using System.Net;
using System.Net.Sockets;

namespace AspNetQuicSteer.Steering.Tests.Forwarding;

/// <summary>A fresh directory under /tmp whose "sock" child (not yet created) is handed to the endpoints.</summary>
internal sealed class TempSocketDirectory : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("fwd");

    public string Root => _root.FullName;

    /// <summary>Where the endpoints put their sockets; created by the first endpoint (mode 0700).</summary>
    public string Sockets => Path.Combine(_root.FullName, "sock");

    public void Dispose()
    {
        try
        {
            _root.Delete(recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

internal static class ForwardingTestSupport
{
    internal static readonly IPEndPoint SharedEndPoint = new(IPAddress.Any, 4433);

    internal static void SkipUnlessLinux() =>
        Assert.SkipUnless(OperatingSystem.IsLinux() && Environment.Is64BitProcess, "forwarding uses Linux AF_UNIX datagram sockets");

    /// <summary>A UDP socket bound with SO_REUSEPORT (socket(7)) so that several generations can share the port.</summary>
    internal static Socket BindShared(IPAddress address, int port, bool dualMode = false)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (dualMode)
            {
                socket.DualMode = true;
            }

            socket.SetRawSocketOption(1 /* SOL_SOCKET */, 15 /* SO_REUSEPORT */, BitConverter.GetBytes(1));
            socket.Bind(new IPEndPoint(address, port));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    internal static byte[] Payload(int i, int length)
    {
        var bytes = new byte[length];
        for (int k = 0; k < length; k++)
        {
            bytes[k] = (byte)((i * 31) + (k * 7));
        }

        return bytes;
    }
}
