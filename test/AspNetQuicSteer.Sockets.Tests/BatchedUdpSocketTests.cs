using System.Net;
using static AspNetQuicSteer.Sockets.Tests.SocketTestHelpers;

namespace AspNetQuicSteer.Sockets.Tests;

public sealed class BatchedUdpSocketTests
{
    public static TheoryData<bool, string> PathsAndFamilies => new()
    {
        { false, "127.0.0.1" },
        { false, "::1" },
        { true, "127.0.0.1" },
        { true, "::1" },
    };

    [Fact]
    public void DetectsCapabilitiesOnThisKernel()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Linux-only capabilities");
        using var native = Create(IPAddress.Loopback, portable: false, gro: true);
        Assert.True(native.IsNative);
        Assert.True(native.GsoEnabled);   // UDP_SEGMENT: Linux 4.18+
        Assert.True(native.GroEnabled);   // UDP_GRO: Linux 5.0+
        Assert.True(native.PacketInformationEnabled);

        using var portable = Create(IPAddress.Loopback, portable: true, gro: true);
        Assert.False(portable.IsNative);
        Assert.False(portable.GsoEnabled);
        Assert.False(portable.GroEnabled);
    }

    [Theory]
    [MemberData(nameof(PathsAndFamilies))]
    public void BatchRoundTripsExactBytesAndAddresses(bool portable, string address)
    {
        IPAddress loopback = IPAddress.Parse(address);
        using BatchedUdpSocket sender = Create(loopback, portable);
        using BatchedUdpSocket receiver = Create(loopback, portable);
        Assert.Equal(!portable && OperatingSystem.IsLinux(), sender.IsNative);

        const int Count = 20;
        var batch = new DatagramBatch(32);
        var expected = new List<byte[]>();
        for (int i = 0; i < Count; i++)
        {
            byte[] payload = Payload(i, 100 + (i * 37)); // increasing sizes: no GSO runs
            expected.Add(payload);
            payload.CopyTo(batch.GetBuffer(i));
            batch.SetLength(i, payload.Length);
            batch.SetRemoteEndPoint(i, LocalEndPoint(receiver));
        }

        Assert.Equal(Count, sender.SendBatch(batch, Count));
        Assert.Equal(sender.IsNative ? 1 : Count, sender.SendCalls); // sendmmsg: one call for the batch
        Assert.Equal(Count, sender.SendMessages); // increasing sizes: nothing to coalesce

        var received = ReceiveAll(receiver, new DatagramBatch(), Count);
        Assert.Equal(Count, received.Count);
        for (int i = 0; i < Count; i++)
        {
            Assert.Equal(expected[i], received[i].Payload);
            Assert.Equal(LocalEndPoint(sender), received[i].Remote);
            Assert.Equal(loopback, received[i].Local);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EmptySocketReceivesZeroDatagramsWithoutThrowing(bool portable)
    {
        using BatchedUdpSocket socket = Create(IPAddress.Loopback, portable);
        var batch = new DatagramBatch(8);
        Assert.Equal(0, socket.ReceiveBatch(batch)); // native: recvmmsg fails with EAGAIN under MSG_DONTWAIT
        Assert.Equal(0, socket.ReceiveBatch(batch));
        Assert.Equal(socket.IsNative ? 2 : 0, socket.ReceiveCalls);
        Assert.False(socket.WaitForReceive(1000));
    }

    [Theory]
    [InlineData(false, "127.0.0.1")]
    [InlineData(false, "127.0.0.2")]
    [InlineData(true, "127.0.0.1")]
    [InlineData(true, "127.0.0.2")]
    public void WildcardBindReportsDialledAddressAndRepliesFromIt(bool portable, string dialled)
    {
        Assert.SkipWhen(dialled != "127.0.0.1" && !OperatingSystem.IsLinux(), "127.0.0.0/8 is all loopback only on Linux");
        IPAddress dialledAddress = IPAddress.Parse(dialled);
        using BatchedUdpSocket server = Create(IPAddress.Any, portable);
        using BatchedUdpSocket client = Create(IPAddress.Loopback, portable: false);
        int serverPort = LocalEndPoint(server).Port;

        var request = new DatagramBatch(4);
        Payload(1, 300).CopyTo(request.GetBuffer(0));
        request.SetLength(0, 300);
        request.SetRemoteEndPoint(0, new IPEndPoint(dialledAddress, serverPort));
        Assert.Equal(1, client.SendBatch(request, 1));

        var inbound = new DatagramBatch(4);
        var got = ReceiveAll(server, inbound, 1);
        Assert.Single(got);
        Assert.Equal(dialledAddress, got[0].Local); // IP_PKTINFO ipi_addr, not 0.0.0.0
        Assert.Equal(LocalEndPoint(client), got[0].Remote);

        var reply = new DatagramBatch(4);
        Payload(2, 200).CopyTo(reply.GetBuffer(0));
        reply.SetLength(0, 200);
        reply.SetReplyAddresses(0, inbound, 0);
        Assert.Equal(1, server.SendBatch(reply, 1));

        var answer = ReceiveAll(client, new DatagramBatch(4), 1);
        Assert.Single(answer);
        Assert.Equal(Payload(2, 200), answer[0].Payload);
        // Routing alone would answer from 127.0.0.1 (the lo route's preferred source); only the IP_PKTINFO
        // source cmsg makes a 127.0.0.2 reply come from 127.0.0.2. The portable path cannot choose.
        IPAddress expectedSource = portable ? IPAddress.Loopback : dialledAddress;
        Assert.Equal(new IPEndPoint(expectedSource, serverPort), answer[0].Remote);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WildcardIPv6BindReportsLoopbackAndRepliesFromIt(bool portable)
    {
        using BatchedUdpSocket server = Create(IPAddress.IPv6Any, portable);
        using BatchedUdpSocket client = Create(IPAddress.IPv6Loopback, portable: false);
        int serverPort = LocalEndPoint(server).Port;

        var request = new DatagramBatch(2);
        request.SetLength(0, 50);
        request.SetRemoteEndPoint(0, new IPEndPoint(IPAddress.IPv6Loopback, serverPort));
        Assert.Equal(1, client.SendBatch(request, 1));

        var inbound = new DatagramBatch(2);
        var got = ReceiveAll(server, inbound, 1);
        Assert.Single(got);
        Assert.Equal(IPAddress.IPv6Loopback, got[0].Local);

        var reply = new DatagramBatch(2);
        reply.SetLength(0, 60);
        reply.SetReplyAddresses(0, inbound, 0);
        Assert.Equal(1, server.SendBatch(reply, 1));
        var answer = ReceiveAll(client, new DatagramBatch(2), 1);
        Assert.Equal(new IPEndPoint(IPAddress.IPv6Loopback, serverPort), Assert.Single(answer).Remote);
        Assert.Equal(60, answer[0].Payload.Length);
    }

    [Theory]
    [InlineData(false, "127.0.0.1")]
    [InlineData(false, "127.0.0.2")]
    [InlineData(true, "127.0.0.1")]
    public void DualModeSocketReceivesFromIPv4AndReplies(bool portable, string dialled)
    {
        IPAddress dialledAddress = IPAddress.Parse(dialled);
        using BatchedUdpSocket server = Create(IPAddress.IPv6Any, portable, dualMode: true);
        using BatchedUdpSocket client = Create(IPAddress.Loopback, portable: false);
        int serverPort = LocalEndPoint(server).Port;

        var request = new DatagramBatch(4);
        for (int i = 0; i < 3; i++)
        {
            Payload(i, 400, seed: 9).CopyTo(request.GetBuffer(i));
            request.SetLength(i, 400);
            request.SetRemoteEndPoint(i, new IPEndPoint(dialledAddress, serverPort));
        }

        Assert.Equal(3, client.SendBatch(request, 3));

        var inbound = new DatagramBatch(4);
        var got = ReceiveAll(server, inbound, 3);
        Assert.Equal(3, got.Count);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(Payload(i, 400, seed: 9), got[i].Payload);
            Assert.Equal(IPAddress.Loopback, Unmap(got[i].Remote.Address));
            Assert.Equal(LocalEndPoint(client).Port, got[i].Remote.Port);
            Assert.NotNull(got[i].Local);
            Assert.Equal(dialledAddress, Unmap(got[i].Local!));
        }

        var reply = new DatagramBatch(4);
        Payload(7, 123).CopyTo(reply.GetBuffer(0));
        reply.SetLength(0, 123);
        reply.SetReplyAddresses(0, inbound, 0);
        Assert.Equal(1, server.SendBatch(reply, 1));
        var answer = ReceiveAll(client, new DatagramBatch(4), 1);
        Assert.Equal(Payload(7, 123), Assert.Single(answer).Payload);
        // IPV6_PKTINFO with a v4-mapped source is accepted for a v4-mapped destination (ip_cmsg_send).
        Assert.Equal(new IPEndPoint(dialledAddress, serverPort), answer[0].Remote);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SendsOnlyTheRequestedSlotRange(bool portable)
    {
        using BatchedUdpSocket sender = Create(IPAddress.Loopback, portable);
        using BatchedUdpSocket receiver = Create(IPAddress.Loopback, portable);
        var batch = new DatagramBatch(16);
        for (int i = 0; i < 16; i++)
        {
            Payload(i, 500).CopyTo(batch.GetBuffer(i));
            batch.SetLength(i, 500);
            batch.SetRemoteEndPoint(i, LocalEndPoint(receiver));
        }

        Assert.Equal(10, sender.SendBatch(batch, 5, 10));
        var received = ReceiveAll(receiver, new DatagramBatch(16), 10);
        Assert.Equal(Enumerable.Range(5, 10).Select(i => Payload(i, 500)), received.Select(r => r.Payload));
        Assert.False(receiver.WaitForReceive(20_000)); // nothing beyond slot 14
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void OversizedDatagramIsFlaggedTruncated(bool portable)
    {
        using BatchedUdpSocket sender = Create(IPAddress.Loopback, portable: false);
        using BatchedUdpSocket receiver = Create(IPAddress.Loopback, portable);
        var outbound = new DatagramBatch(2, 3000);
        var inbound = new DatagramBatch(4, 1500);
        foreach (int size in new[] { 3000, 100 })
        {
            outbound.SetLength(0, size);
            outbound.SetRemoteEndPoint(0, LocalEndPoint(receiver));
            Assert.Equal(1, sender.SendBatch(outbound, 1));
            Assert.True(receiver.WaitForReceive(5_000_000));
            Assert.Equal(1, receiver.ReceiveBatch(inbound));
            Assert.Equal(size > 1500, inbound.IsTruncated(0)); // MSG_TRUNC
            Assert.Equal(Math.Min(size, 1500), inbound.GetLength(0));
        }
    }

    [Fact]
    public void ReceiveRequiresFullSizeSlotsWithGro()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "UDP_GRO is Linux-only");
        using BatchedUdpSocket receiver = Create(IPAddress.Loopback, portable: false, gro: true);
        Assert.Throws<ArgumentException>(() => receiver.ReceiveBatch(new DatagramBatch(4, 1500)));
    }
}
