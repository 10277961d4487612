using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AspNetQuicSteer.Sockets.Tests;

/// <summary>
/// SCM_RIGHTS handoff (unix(7)) of a bound UDP socket and a listening TCP socket: the receiver serves the same port
/// with nothing rebound, in this process and in another process.
/// </summary>
public sealed class SocketHandoffTests
{
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Handed_off_UDP_and_TCP_sockets_keep_serving_their_ports()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "SCM_RIGHTS handoff is Linux-only.");
        string path = Path.Combine(Path.GetTempPath(), $"quicsteer-handoff-{Guid.NewGuid():N}.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen();
        using var sender = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await sender.ConnectAsync(new UnixDomainSocketEndPoint(path), Cancellation);
        using Socket receiver = await listener.AcceptAsync(Cancellation);
        File.Delete(path);

        var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        tcp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        tcp.Listen();
        var udpEndPoint = (IPEndPoint)udp.LocalEndPoint!;
        var tcpEndPoint = (IPEndPoint)tcp.LocalEndPoint!;

        SocketHandoff.Send(sender, "udp,tcp"u8, [udp, tcp]);
        udp.Dispose(); // the old owner lets go: the open sockets live on in the receiver's descriptors
        tcp.Dispose();
        (byte[] description, Socket[] sockets) = SocketHandoff.Receive(receiver);

        Assert.Equal("udp,tcp", Encoding.ASCII.GetString(description));
        Assert.Equal(2, sockets.Length);
        using Socket receivedUdp = sockets[0];
        using Socket receivedTcp = sockets[1];
        Assert.Equal(udpEndPoint, receivedUdp.LocalEndPoint);
        Assert.Equal(tcpEndPoint, receivedTcp.LocalEndPoint);

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        await client.SendToAsync("ping"u8.ToArray(), udpEndPoint, Cancellation);
        byte[] buffer = new byte[16];
        SocketReceiveFromResult got = await receivedUdp.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), Cancellation)
            .AsTask().WaitAsync(TimeSpan.FromSeconds(5), Cancellation);
        Assert.Equal("ping", Encoding.ASCII.GetString(buffer, 0, got.ReceivedBytes));

        using var tcpClient = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await tcpClient.ConnectAsync(tcpEndPoint, Cancellation);
        using Socket accepted = await receivedTcp.AcceptAsync(Cancellation).AsTask().WaitAsync(TimeSpan.FromSeconds(5), Cancellation);
        Assert.Equal(tcpClient.LocalEndPoint, accepted.RemoteEndPoint);
    }

    [Fact]
    public async Task Another_process_receives_the_UDP_socket_and_answers_on_its_port()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "SCM_RIGHTS handoff is Linux-only.");
        string path = Path.Combine(Path.GetTempPath(), $"quicsteer-handoff-{Guid.NewGuid():N}.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen();

        // The child takes the socket (socket.recv_fds, Python 3.9+) and answers one datagram from it, upper-cased.
        const string Script = """
            import socket, sys
            channel = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            channel.connect(sys.argv[1])
            msg, fds, flags, addr = socket.recv_fds(channel, 64, 4)
            udp = socket.socket(fileno=fds[0])
            print("READY", msg.decode(), flush=True)
            data, peer = udp.recvfrom(64)
            udp.sendto(data.upper(), peer)
            """;
        using var child = Process.Start(new ProcessStartInfo("python3", ["-c", Script, path])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        try
        {
            using Socket channel = await listener.AcceptAsync(Cancellation).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Cancellation);
            File.Delete(path);
            var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            var endPoint = (IPEndPoint)udp.LocalEndPoint!;
            SocketHandoff.Send(channel, "udp"u8, [udp]);
            udp.Dispose();

            string? ready = await child.StandardOutput.ReadLineAsync(Cancellation).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Cancellation);
            if (ready != "READY udp")
            {
                child.Kill();
                Assert.Fail($"child said '{ready}': {await child.StandardError.ReadToEndAsync(Cancellation)}");
            }

            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            await client.SendToAsync("hello"u8.ToArray(), endPoint, Cancellation);
            byte[] buffer = new byte[16];
            SocketReceiveFromResult reply = await client.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), Cancellation)
                .AsTask().WaitAsync(TimeSpan.FromSeconds(10), Cancellation);
            Assert.Equal("HELLO", Encoding.ASCII.GetString(buffer, 0, reply.ReceivedBytes));
            Assert.Equal(endPoint, reply.RemoteEndPoint); // answered from the handed-off port
        }
        finally
        {
            if (!child.HasExited) child.Kill();
        }
    }
}
