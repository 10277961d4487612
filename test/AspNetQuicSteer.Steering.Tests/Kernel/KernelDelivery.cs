using System.Net;
using System.Net.Sockets;
using AspNetQuicSteer.Steering.Kernel;

namespace AspNetQuicSteer.Steering.Tests.Kernel;

/// <summary>
/// Sends datagrams to a reuseport group over loopback one at a time and reports which member socket the kernel
/// delivered each one to (checking the bytes arrived intact and nowhere else).
/// </summary>
internal sealed class KernelDelivery : IDisposable
{
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(5);
    private readonly Socket _client;
    private readonly byte[] _buffer = new byte[2048];

    public KernelDelivery(IPAddress address)
    {
        _client = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        _client.Bind(new IPEndPoint(address, 0));
    }

    public void Dispose() => _client.Dispose();

    /// <summary>The socket (from <paramref name="members"/>) that received <paramref name="datagram"/>.</summary>
    public Socket Send(IPEndPoint target, IReadOnlyList<Socket> members, byte[] datagram, CancellationToken cancellationToken)
    {
        _client.SendTo(datagram, target);
        var deadline = DateTime.UtcNow + DeliveryTimeout;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            // select(2) per wait: readable = a datagram is queued (also a zero-length one, which FIONREAD cannot show).
            var readable = members.ToList();
            Socket.Select(readable, null, null, TimeSpan.FromMilliseconds(100));
            if (readable.Count > 0)
            {
                Assert.Single(readable);
                var receiver = readable[0];
                EndPoint from = new IPEndPoint(IPAddress.Any, 0);
                int length = receiver.ReceiveFrom(_buffer, ref from);
                Assert.Equal(datagram, _buffer.AsSpan(0, length).ToArray());
                Assert.Equal(_client.LocalEndPoint, from);
                return receiver;
            }

            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"A {datagram.Length}-byte datagram did not arrive on any of {members.Count} sockets.");
        }
    }

    /// <summary>Sends every datagram and counts deliveries per member index.</summary>
    public int[] Count(ReuseportGroup group, IEnumerable<byte[]> datagrams, CancellationToken cancellationToken)
    {
        var members = group.Sockets.ToList();
        int[] counts = new int[members.Count];
        foreach (var datagram in datagrams)
            counts[members.IndexOf(Send(group.LocalEndPoint, members, datagram, cancellationToken))]++;
        return counts;
    }
}
