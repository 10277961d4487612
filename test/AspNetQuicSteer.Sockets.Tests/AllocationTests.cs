using System.Net;
using static AspNetQuicSteer.Sockets.Tests.SocketTestHelpers;

namespace AspNetQuicSteer.Sockets.Tests;

public sealed class AllocationTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SteadyStateSendAndReceiveDoNotAllocate(bool gso)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "the allocation-free path is the Linux one");
        using BatchedUdpSocket sender = Create(IPAddress.Loopback, portable: false, gso: gso);
        using BatchedUdpSocket receiver = Create(IPAddress.Any, portable: false);
        const int PerBatch = 16;
        var outbound = new DatagramBatch(PerBatch);
        var inbound = new DatagramBatch(PerBatch);
        var target = new IPEndPoint(IPAddress.Loopback, LocalEndPoint(receiver).Port);
        for (int i = 0; i < PerBatch; i++)
        {
            Payload(i, 1200).CopyTo(outbound.GetBuffer(i));
            outbound.SetLength(i, 1200);
            outbound.SetRemoteEndPoint(i, target);
            outbound.SetLocalAddress(i, IPAddress.Loopback); // exercises the IP_PKTINFO source cmsg
        }

        int Round()
        {
            int sent = 0;
            while (sent < PerBatch)
            {
                sent += sender.SendBatch(outbound, sent, PerBatch - sent);
            }

            int got = 0;
            int checksum = 0;
            while (got < PerBatch)
            {
                if (!receiver.WaitForReceive(1_000_000))
                {
                    return -1;
                }

                int n = receiver.ReceiveBatch(inbound);
                for (int slot = 0; slot < n; slot++)
                {
                    checksum += inbound.GetDatagram(slot)[0] + inbound.GetLocalAddress(slot).Length;
                }

                got += n;
            }

            return checksum;
        }

        for (int i = 0; i < 20; i++)
        {
            Assert.NotEqual(-1, Round());
        }

        // No xunit asserts inside the measured loop: Assert.NotEqual itself allocates (~600 B per call).
        long before = GC.GetAllocatedBytesForCurrentThread();
        int total = 0;
        int timeouts = 0;
        for (int i = 0; i < 300; i++)
        {
            int r = Round();
            timeouts += r == -1 ? 1 : 0;
            total += r;
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, timeouts);
        Assert.Equal(0, allocated);
        Assert.NotEqual(0, total);
        Assert.Equal(320, sender.SendCalls); // one sendmsg (GSO) / sendmmsg per batch, no partial sends
        Assert.Equal(gso ? 320 : 320 * PerBatch, sender.SendMessages);
    }
}
