using System.Net;
using System.Net.Sockets;
using System.Text;
using AspNetQuicSteer.Steering.Forwarding;
using static AspNetQuicSteer.Steering.Tests.Forwarding.ForwardingTestSupport;

namespace AspNetQuicSteer.Steering.Tests.Forwarding;

/// <summary>
/// The whole path of issue 6's forwarding dataplane with real sockets: two generations bind the same UDP port with
/// SO_REUSEPORT, the kernel hands a client's datagram to one of them, that one forwards it to the other (the owner)
/// over the Unix socket, and the owner answers from its own socket on the shared port. The client's socket is
/// connected to the address it dialled, so a reply from any other address or port would never reach it (udp(7)).
/// </summary>
public sealed class ReplyFromSharedPortTests : IDisposable
{
    private readonly TempSocketDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("127.0.0.1", "127.0.0.1", false)] // specific bind: the source is right without help
    [InlineData("0.0.0.0", "127.0.0.2", false)]   // wildcard bind, client dials a secondary address: IP_PKTINFO needed
    [InlineData("::", "127.0.0.2", true)]         // dual-mode wildcard, IPv4 client: v4-mapped, IPV6_PKTINFO
    [InlineData("::1", "::1", false)]             // IPv6 specific bind
    [InlineData("::", "::1", false)]              // IPv6 wildcard bind
    public void The_owner_replies_from_the_address_the_client_dialled(string bind, string dial, bool dualMode)
    {
        SkipUnlessLinux();
        IPAddress bindAddress = IPAddress.Parse(bind);
        IPAddress dialAddress = IPAddress.Parse(dial);
        Assert.SkipWhen(dialAddress.AddressFamily == AddressFamily.InterNetworkV6 && !Socket.OSSupportsIPv6, "no IPv6");

        using Socket genA = BindShared(bindAddress, 0, dualMode);
        int port = ((IPEndPoint)genA.LocalEndPoint!).Port;
        using Socket genB = BindShared(bindAddress, port, dualMode);
        var shared = new IPEndPoint(bindAddress, port);
        using var forwardA = new ForwardingEndpoint(_dir.Sockets, shared, new GenerationId(1));
        using var forwardB = new ForwardingEndpoint(_dir.Sockets, shared, new GenerationId(2));

        IPAddress clientAddress = dialAddress.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Loopback : IPAddress.IPv6Loopback;
        using var client = new Socket(dialAddress.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        client.Bind(new IPEndPoint(clientAddress, 0));
        var dialled = new IPEndPoint(dialAddress, port);
        client.Connect(dialled);
        client.ReceiveTimeout = 5000;
        byte[] request = Encoding.ASCII.GetBytes("client hello");
        client.Send(request);

        // Whichever generation the kernel picked receives it; it does not own the connection and forwards it.
        (Socket receiver, ForwardingEndpoint receiverForwarding, Socket owner, ForwardingEndpoint ownerForwarding) =
            WaitForFirstReadable(genA, genB) == genA ? (genA, forwardA, genB, forwardB) : (genB, forwardB, genA, forwardA);
        byte[] buffer = new byte[2048];
        EndPoint from = new IPEndPoint(bindAddress.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0);
        SocketFlags flags = SocketFlags.None;
        int length = receiver.ReceiveMessageFrom(buffer, ref flags, ref from, out IPPacketInformation info);
        Assert.Equal(request, buffer[..length]);
        Assert.Equal(Unmap(dialAddress), Unmap(info.Address)); // IP_PKTINFO: the destination the client used
        var local = new IPEndPoint(info.Address, port);
        Assert.True(receiverForwarding.TrySend(ownerForwarding.Generation, buffer.AsSpan(0, length), (IPEndPoint)from, local));

        // The owner takes it off its Unix socket and answers through its own UDP socket on the shared port.
        Assert.True(ownerForwarding.WaitForReceive(5_000_000));
        Assert.True(ownerForwarding.TryReceive(buffer, out ForwardedDatagramHeader header, out length));
        Assert.Equal(request, buffer[..length]);
        Assert.Equal(client.LocalEndPoint, Unmap(header.GetRemoteEndPoint()));
        byte[] response = Encoding.ASCII.GetBytes("server reply to " + Encoding.ASCII.GetString(buffer, 0, length));
        var reply = new ReplyFromSharedPort(owner);
        Assert.True(reply.TrySend(response, header));
        Assert.Equal(1, reply.Sent);

        EndPoint replyFrom = new IPEndPoint(clientAddress, 0);
        length = client.ReceiveFrom(buffer, ref replyFrom);
        Assert.Equal(response, buffer[..length]);
        Assert.Equal(dialled, replyFrom); // the exact address and port the client sent to
        Assert.Equal(0, receiver.Available);
        Assert.Equal(0, owner.Available);
    }

    /// <summary>
    /// The control for the wildcard cases: without the source cmsg the kernel routes the reply from 127.0.0.1, not
    /// the 127.0.0.2 the client dialled — the reply a connected client (or a QUIC stack) would not accept.
    /// </summary>
    [Fact]
    public void Without_packet_information_a_wildcard_socket_answers_from_the_wrong_address()
    {
        SkipUnlessLinux();
        using Socket owner = BindShared(IPAddress.Any, 0);
        int port = ((IPEndPoint)owner.LocalEndPoint!).Port;
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        client.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        client.ReceiveTimeout = 5000;
        owner.SendTo("plain"u8, client.LocalEndPoint!);
        byte[] buffer = new byte[64];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        client.ReceiveFrom(buffer, ref from);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, port), from);
        Assert.NotEqual(new IPEndPoint(IPAddress.Parse("127.0.0.2"), port), from);

        // ... and with the helper, from the header's local address.
        var header = ForwardedDatagramHeader.Create((IPEndPoint)client.LocalEndPoint!, new IPEndPoint(IPAddress.Parse("127.0.0.2"), port));
        Assert.True(new ReplyFromSharedPort(owner).TrySend("steered"u8, header));
        client.ReceiveFrom(buffer, ref from);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("127.0.0.2"), port), from);
    }

    [Fact]
    public void A_client_the_socket_family_cannot_reach_is_counted_not_thrown()
    {
        SkipUnlessLinux();
        using Socket owner = BindShared(IPAddress.Loopback, 0);
        var reply = new ReplyFromSharedPort(owner);
        var header = ForwardedDatagramHeader.Create(new IPEndPoint(IPAddress.IPv6Loopback, 1234), null);
        Assert.False(reply.TrySend([1], header));
        Assert.False(reply.TrySend([1], default));
        Assert.Equal((0, 2), (reply.Sent, reply.Failed));
    }

    private static Socket WaitForFirstReadable(Socket a, Socket b)
    {
        var readable = new List<Socket>(2);
        long deadline = Environment.TickCount64 + 5000;
        while (Environment.TickCount64 < deadline)
        {
            readable.Clear();
            readable.Add(a);
            readable.Add(b);
            Socket.Select(readable, null, null, 100_000);
            if (readable.Count > 0)
            {
                Assert.Single(readable); // SO_REUSEPORT delivers each datagram to one socket of the group
                return readable[0];
            }
        }

        Assert.Fail("neither generation received the client's datagram");
        return null!;
    }

    private static IPAddress Unmap(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    private static IPEndPoint Unmap(IPEndPoint endPoint) => new(Unmap(endPoint.Address), endPoint.Port);
}
