using System.Net;
using static AspNetQuicSteer.Sockets.Tests.SocketTestHelpers;

namespace AspNetQuicSteer.Sockets.Tests;

public sealed class GsoGroTests
{
    private static DatagramBatch Fill(BatchedUdpSocket receiver, int count, Func<int, int> length, List<byte[]> expected)
    {
        var batch = new DatagramBatch(64);
        for (int i = 0; i < count; i++)
        {
            byte[] payload = Payload(i, length(i), seed: 3);
            expected.Add(payload);
            payload.CopyTo(batch.GetBuffer(i));
            batch.SetLength(i, payload.Length);
            batch.SetRemoteEndPoint(i, LocalEndPoint(receiver));
        }

        return batch;
    }

    [Theory]
    [InlineData("127.0.0.1", 40, 1200, 1200, 1)]   // one UDP_SEGMENT super-datagram of 48,000 bytes (sendmsg)
    [InlineData("127.0.0.1", 40, 1200, 700, 1)]    // the last segment may be shorter
    [InlineData("127.0.0.1", 40, 1200, 1300, 2)]   // ... but not longer: it goes in its own message
    [InlineData("127.0.0.1", 60, 1200, 1200, 2)]   // 72,000 bytes > 65,507: 54 + 6 segments, one sendmmsg
    [InlineData("127.0.0.1", 64, 600, 600, 1)]     // exactly UDP_MAX_SEGMENTS
    [InlineData("127.0.0.1", 64, 100, 100, 1)]
    [InlineData("::1", 40, 1200, 1200, 1)]
    [InlineData("::ffff:127.0.0.1", 40, 1200, 1100, 1)] // dual-mode sender, v4-mapped destination
    public void GsoSendArrivesAsSeparateDatagramsWithoutGro(string address, int count, int size, int lastSize, int expectedMessages)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "UDP GSO is Linux-only");
        IPAddress ip = IPAddress.Parse(address);
        bool dual = ip.IsIPv4MappedToIPv6;
        using BatchedUdpSocket sender = dual ? Create(IPAddress.IPv6Any, portable: false, dualMode: true) : Create(ip, portable: false);
        using BatchedUdpSocket receiver = Create(dual ? IPAddress.Loopback : ip, portable: false);
        Assert.True(sender.GsoEnabled);

        var expected = new List<byte[]>();
        DatagramBatch batch = Fill(receiver, count, i => i == count - 1 ? lastSize : size, expected);
        Assert.Equal(count, sender.SendBatch(batch, count));
        Assert.Equal(1, sender.SendCalls);
        Assert.Equal(expectedMessages, sender.SendMessages);

        var received = ReceiveAll(receiver, new DatagramBatch(64), count);
        Assert.Equal(count, received.Count);
        for (int i = 0; i < count; i++)
        {
            Assert.Equal(expected[i], received[i].Payload);
            Assert.Equal(1, received[i].SegmentsInSlot);
            Assert.Equal(new IPEndPoint(dual ? IPAddress.Loopback : ip, LocalEndPoint(sender).Port), received[i].Remote);
        }
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void GsoToGroArrivesCoalescedAndSplitsBack(string address)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "UDP GSO/GRO is Linux-only");
        IPAddress ip = IPAddress.Parse(address);
        using BatchedUdpSocket sender = Create(ip, portable: false);
        using BatchedUdpSocket receiver = Create(ip, portable: false, gro: true);
        Assert.True(receiver.GroEnabled);

        var expected = new List<byte[]>();
        DatagramBatch batch = Fill(receiver, 40, _ => 1200, expected);
        Assert.Equal(40, sender.SendBatch(batch, 40));
        Assert.Equal(1, sender.SendMessages);

        var inbound = new DatagramBatch(8, DatagramBatch.GroSlotSize);
        var received = ReceiveAll(receiver, inbound, 40);
        Assert.Equal(40, received.Count);
        for (int i = 0; i < 40; i++)
        {
            Assert.Equal(expected[i], received[i].Payload);
            Assert.Equal(LocalEndPoint(sender), received[i].Remote);
            Assert.Equal(ip, received[i].Local);
        }

        Assert.Contains(received, r => r.SegmentsInSlot > 1); // the kernel really coalesced
    }

    [Fact]
    public void DifferentDestinationsAreNotCoalesced()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "UDP GSO is Linux-only");
        using BatchedUdpSocket sender = Create(IPAddress.Loopback, portable: false);
        using BatchedUdpSocket a = Create(IPAddress.Loopback, portable: false);
        using BatchedUdpSocket b = Create(IPAddress.Loopback, portable: false);
        var batch = new DatagramBatch(16);
        for (int i = 0; i < 12; i++)
        {
            Payload(i, 1000).CopyTo(batch.GetBuffer(i));
            batch.SetLength(i, 1000);
            batch.SetRemoteEndPoint(i, LocalEndPoint(i % 3 == 0 ? a : b)); // a, b, b, a, b, b, ...
        }

        Assert.Equal(12, sender.SendBatch(batch, 12));
        var atA = ReceiveAll(a, new DatagramBatch(16), 4);
        var atB = ReceiveAll(b, new DatagramBatch(16), 8);
        Assert.Equal(new[] { 0, 3, 6, 9 }.Select(i => Payload(i, 1000)), atA.Select(r => r.Payload));
        Assert.Equal(new[] { 1, 2, 4, 5, 7, 8, 10, 11 }.Select(i => Payload(i, 1000)), atB.Select(r => r.Payload));
        Assert.Equal(1, sender.SendCalls);
        Assert.Equal(8, sender.SendMessages); // a | b b | a | b b | a | b b | a | b b
    }
}
