using System.Net;
using System.Net.Sockets;
using AspNetQuicSteer.Steering.Forwarding;
using static AspNetQuicSteer.Steering.Tests.Forwarding.ForwardingTestSupport;

namespace AspNetQuicSteer.Steering.Tests.Forwarding;

/// <summary>
/// Steady-state forwarding allocates nothing: measured with <see cref="GC.GetAllocatedBytesForCurrentThread"/>
/// around 10,000 datagrams, with no xunit asserts inside the measured loop (asserts allocate). Not a timing test.
/// </summary>
public sealed class ForwardingAllocationTests : IDisposable
{
    private const int Datagrams = 10_000;

    // Below net.unix.max_dgram_qlen's default (10; the kernel lets one more in): no round ever drops.
    private const int PerRound = 8;

    private readonly TempSocketDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Forwarding_ten_thousand_datagrams_allocates_nothing()
    {
        SkipUnlessLinux();
        using var a = new ForwardingEndpoint(_dir.Sockets, SharedEndPoint, new GenerationId(1));
        using var b = new ForwardingEndpoint(_dir.Sockets, SharedEndPoint, new GenerationId(2));
        var remote = new IPEndPoint(IPAddress.Parse("2001:db8::7"), 50000);
        var local = new IPEndPoint(IPAddress.Parse("2001:db8::1"), 4433);
        byte[] datagram = Payload(3, 1200);
        byte[] buffer = new byte[ForwardedDatagram.MaxPayloadLength];

        // Returns a checksum (or −1 on a drop/timeout) so the work cannot be optimised away.
        long Round()
        {
            long checksum = 0;
            for (int i = 0; i < PerRound; i++)
            {
                if (!a.TrySend(b.Generation, datagram, remote, local))
                {
                    return -1;
                }
            }

            for (int got = 0; got < PerRound;)
            {
                if (b.TryReceive(buffer, out ForwardedDatagramHeader header, out int length))
                {
                    checksum += length + header.RemotePort + buffer[length - 1];
                    got++;
                }
                else if (!b.WaitForReceive(1_000_000))
                {
                    return -1;
                }
            }

            return checksum;
        }

        for (int i = 0; i < 200; i++)
        {
            Assert.NotEqual(-1, Round()); // warm-up: JIT, tiering, the owner's cached address
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        long total = 0;
        int failures = 0;
        for (int i = 0; i < Datagrams / PerRound; i++)
        {
            long r = Round();
            failures += r == -1 ? 1 : 0;
            total += r;
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, failures);
        Assert.Equal(0, allocated);
        Assert.NotEqual(0, total);
        Assert.Equal(200 * PerRound + Datagrams, b.Received);
        Assert.Equal(0, a.Dropped);
    }

    [Fact]
    public void Replying_ten_thousand_times_from_the_shared_port_allocates_nothing()
    {
        SkipUnlessLinux();
        using Socket owner = BindShared(IPAddress.Any, 0);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        client.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var header = ForwardedDatagramHeader.Create((IPEndPoint)client.LocalEndPoint!, new IPEndPoint(IPAddress.Parse("127.0.0.2"), 4433));
        var reply = new ReplyFromSharedPort(owner);
        byte[] datagram = Payload(5, 1200);
        byte[] sink = new byte[2048];

        int Round()
        {
            int sent = 0;
            for (int i = 0; i < PerRound; i++)
            {
                sent += reply.TrySend(datagram, header) ? 1 : 0;
            }

            // Keep the client's receive buffer from filling (a full one would only drop, but drain anyway).
            while (client.Available > 0)
            {
                client.Receive(sink);
            }

            return sent;
        }

        for (int i = 0; i < 200; i++)
        {
            Round();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        int total = 0;
        for (int i = 0; i < Datagrams / PerRound; i++)
        {
            total += Round();
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.Equal(Datagrams, total);
        Assert.Equal(0, reply.Failed);
    }
}
