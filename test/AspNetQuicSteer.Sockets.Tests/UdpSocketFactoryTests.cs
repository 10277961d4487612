using System.Net;
using System.Net.Sockets;

namespace AspNetQuicSteer.Sockets.Tests;

public sealed class UdpSocketFactoryTests
{
    [Theory]
    [InlineData("127.0.0.1", "127.0.0.1")]
    [InlineData("0.0.0.0", "0.0.0.0")]
    [InlineData("::", "::")]
    [InlineData("::", "0.0.0.0")] // the dual-mode socket holds the IPv4 port too
    public void Binding_a_taken_port_throws_AddressAlreadyInUse(string first, string second)
    {
        using Socket taken = UdpSocketFactory.Bind(new IPEndPoint(IPAddress.Parse(first), 0), 1 << 20, 1 << 20);
        int port = ((IPEndPoint)taken.LocalEndPoint!).Port;

        SocketException error = Assert.Throws<SocketException>(() => UdpSocketFactory.Bind(new IPEndPoint(IPAddress.Parse(second), port), 1 << 20, 1 << 20));
        Assert.Equal(SocketError.AddressAlreadyInUse, error.SocketErrorCode);
    }

    [Fact]
    public void IPv6Any_is_dual_mode_and_receives_from_an_IPv4_client()
    {
        using Socket server = UdpSocketFactory.Bind(new IPEndPoint(IPAddress.IPv6Any, 0), 1 << 20, 1 << 20);
        Assert.Equal(AddressFamily.InterNetworkV6, server.AddressFamily);
        Assert.True(server.DualMode);
        Assert.True(server.ReceiveBufferSize > 0);

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        client.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        client.SendTo("hello"u8.ToArray(), new IPEndPoint(IPAddress.Loopback, ((IPEndPoint)server.LocalEndPoint!).Port));

        Assert.True(server.Poll(5_000_000, SelectMode.SelectRead));
        byte[] buffer = new byte[64];
        EndPoint from = new IPEndPoint(IPAddress.IPv6Any, 0);
        int length = server.ReceiveFrom(buffer, ref from);

        Assert.Equal("hello"u8.ToArray(), buffer[..length]);
        var remote = (IPEndPoint)from;
        Assert.True(remote.Address.IsIPv4MappedToIPv6);
        Assert.Equal(client.LocalEndPoint, new IPEndPoint(remote.Address.MapToIPv4(), remote.Port));
    }

    [Fact]
    public void Specific_IPv6_and_IPv4_binds_are_single_family()
    {
        using Socket v4 = UdpSocketFactory.Bind(new IPEndPoint(IPAddress.Loopback, 0), 0, 0);
        Assert.Equal(AddressFamily.InterNetwork, v4.AddressFamily);
        Assert.Equal(IPAddress.Loopback, ((IPEndPoint)v4.LocalEndPoint!).Address);

        if (!Socket.OSSupportsIPv6) return;
        using Socket v6 = UdpSocketFactory.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0), 0, 0);
        Assert.False(v6.DualMode);
    }
}
