using System.Net;

namespace AspNetQuicSteer.Sockets.Tests;

public sealed class RemoteEndPointTableTests
{
    [Fact]
    public void Hundreds_of_peers_each_keep_one_instance()
    {
        var table = new RemoteEndPointTable(QuicEndpointDriver.RemoteCacheSize);
        const int Peers = 500;
        var first = new IPEndPoint[Peers];
        for (int i = 0; i < Peers; i++)
        {
            first[i] = table.Resolve(Raw(Peer(i)), out _);
            Assert.Equal(Peer(i), first[i]);
        }

        for (int pass = 0; pass < 3; pass++)
        {
            for (int i = 0; i < Peers; i++)
            {
                Assert.Same(first[i], table.Resolve(Raw(Peer(i)), out int entry));
                Assert.Same(first[i], table.GetEndPoint(entry));
                Assert.Equal(entry, table.Find(Raw(Peer(i))));
            }
        }

        Assert.Equal(Peers, table.Created);
        Assert.Equal(0, table.Evictions);
    }

    [Fact]
    public void IPv4_and_its_mapped_form_are_one_peer_and_flowinfo_is_ignored()
    {
        var table = new RemoteEndPointTable(64);
        var mapped = new IPEndPoint(IPAddress.Parse("::ffff:192.0.2.7"), 4433);
        IPEndPoint cached = table.Resolve(Raw(mapped), out int entry);

        Assert.Equal(entry, table.Find(Raw(new IPEndPoint(IPAddress.Parse("192.0.2.7"), 4433))));
        Assert.Equal(RemoteEndPointTable.None, table.Find(Raw(new IPEndPoint(IPAddress.Parse("192.0.2.7"), 4434))));

        byte[] withFlow = Raw(mapped);
        withFlow[4] = 0x12; // sin6_flowinfo: not part of the peer's identity
        Assert.Same(cached, table.Resolve(withFlow, out _));

        var scoped = new IPEndPoint(IPAddress.Parse("fe80::1%2"), 4433);
        var otherScope = new IPEndPoint(IPAddress.Parse("fe80::1%3"), 4433);
        Assert.NotSame(table.Resolve(Raw(scoped), out _), table.Resolve(Raw(otherScope), out _));
        Assert.Equal(3, table.Created);
    }

    [Fact]
    public void A_full_window_replaces_its_least_recently_seen_peer()
    {
        // Capacity == probe window: every key shares the one window whatever its hash.
        var table = new RemoteEndPointTable(RemoteEndPointTable.ProbeWindow);
        var instances = new IPEndPoint[RemoteEndPointTable.ProbeWindow + 1];
        for (int i = 0; i < RemoteEndPointTable.ProbeWindow; i++) instances[i] = table.Resolve(Raw(Peer(i)), out _);
        for (int i = 1; i < RemoteEndPointTable.ProbeWindow; i++) table.Resolve(Raw(Peer(i)), out _); // peer 0 is now the idlest

        instances[RemoteEndPointTable.ProbeWindow] = table.Resolve(Raw(Peer(RemoteEndPointTable.ProbeWindow)), out _);

        Assert.Equal(1, table.Evictions);
        Assert.Equal(RemoteEndPointTable.None, table.Find(Raw(Peer(0))));
        for (int i = 1; i <= RemoteEndPointTable.ProbeWindow; i++) Assert.Same(instances[i], table.Resolve(Raw(Peer(i)), out _));

        // The evicted peer comes back as a new instance (and evicts the idlest again).
        IPEndPoint returned = table.Resolve(Raw(Peer(0)), out _);
        Assert.NotSame(instances[0], returned);
        Assert.Equal(Peer(0), returned);
        Assert.Equal(RemoteEndPointTable.ProbeWindow + 2, table.Created);
    }

    [Fact]
    public void Local_addresses_are_remembered_per_peer()
    {
        var table = new RemoteEndPointTable(64);
        table.Resolve(Raw(Peer(1)), out int a);
        table.Resolve(Raw(Peer(2)), out int b);
        Assert.True(table.GetLocalAddress(a, out _).IsEmpty);

        table.SetLocalAddress(a, IPAddress.Parse("127.0.0.2").GetAddressBytes(), 1);
        table.SetLocalAddress(b, IPAddress.Parse("::ffff:127.0.0.3").GetAddressBytes(), 0);

        Assert.Equal(IPAddress.Parse("127.0.0.2"), new IPAddress(table.GetLocalAddress(a, out int index)));
        Assert.Equal(1, index);
        Assert.Equal(IPAddress.Parse("::ffff:127.0.0.3"), new IPAddress(table.GetLocalAddress(b, out _)));
    }

    [Fact]
    public void Non_IP_sockaddrs_are_rejected()
    {
        var table = new RemoteEndPointTable(64);
        byte[] unix = new byte[16];
        unix[0] = 1; // AF_UNIX
        Assert.Throws<ArgumentException>(() => table.Resolve(unix, out _));
        Assert.Equal(RemoteEndPointTable.None, table.Find(unix));
        Assert.Throws<ArgumentException>(() => table.Resolve(Raw(Peer(1)).AsSpan(0, 8), out _));
        Assert.Throws<ArgumentException>(() => new RemoteEndPointTable(100));
    }

    private static IPEndPoint Peer(int i) => new(new IPAddress([10, (byte)(i >> 16), (byte)(i >> 8), (byte)i]), 1024 + (i % 7));

    private static byte[] Raw(IPEndPoint endPoint)
    {
        byte[] raw = new byte[SocketAddressCodec.MaxLength];
        int length = SocketAddressCodec.Write(endPoint, raw);
        return raw[..length];
    }
}
