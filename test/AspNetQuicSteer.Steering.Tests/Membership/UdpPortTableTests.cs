using System.Net;
using System.Net.Sockets;
using AspNetQuicSteer.Steering.Membership;

namespace AspNetQuicSteer.Steering.Tests.Membership;

/// <summary>The /proc/net/udp reader behind the foreign-socket check (proc(5)).</summary>
public sealed class UdpPortTableTests
{
    [Theory]
    [InlineData("  312: 0100007F:B84B 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 948113 2 0000000000000000 0", "127.0.0.1", 47179, 0u, 948113ul)]
    [InlineData("  12: 00000000:01BB 00000000:0000 07 00000000:00000000 00:00000000 00000000 65534        0 55 2 0000000000000000 0", "0.0.0.0", 443, 65534u, 55ul)]
    [InlineData("  7: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 77 2 0000000000000000 0", "::1", 8080, 1000u, 77ul)]
    public void Parses_proc_lines(string line, string address, int port, uint uid, ulong inode)
    {
        Assert.True(UdpPortTable.TryParse(line, out UdpPortTable.Entry entry));
        Assert.Equal(new UdpPortTable.Entry(IPAddress.Parse(address), port, uid, inode), entry);
    }

    [Theory]
    [InlineData("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops")]
    [InlineData("")]
    [InlineData("  1: 0100007F 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 1 2 0 0")]
    [InlineData("  1: 0100007Z:0050 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 1 2 0 0")]
    public void Refuses_other_lines(string line) => Assert.False(UdpPortTable.TryParse(line, out _));

    [Fact]
    public void Finds_a_socket_bound_in_this_process()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "/proc/net/udp is Linux's");
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        Assert.Contains(UdpPortTable.Read(), e => e.Port == port && e.Address.Equals(IPAddress.Loopback));
    }

    [Theory]
    [InlineData("127.0.0.1", "127.0.0.1", true)]
    [InlineData("0.0.0.0", "127.0.0.1", true)]
    [InlineData("127.0.0.1", "0.0.0.0", true)]
    [InlineData("::", "127.0.0.1", true)]
    [InlineData("127.0.0.2", "127.0.0.1", false)]
    [InlineData("::1", "127.0.0.1", false)]
    [InlineData("0.0.0.0", "::1", false)]
    public void Overlap_follows_wildcards(string other, string ours, bool overlaps) =>
        Assert.Equal(overlaps, UdpPortTable.Overlaps(IPAddress.Parse(other), IPAddress.Parse(ours)));
}
