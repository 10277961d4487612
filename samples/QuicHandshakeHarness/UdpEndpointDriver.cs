using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using AspNetQuicSteer.Quic.Endpoint;

namespace QuicHandshakeHarness;

/// <summary>
/// Drives a sans-IO endpoint over one real UDP socket with a single-threaded poll loop: timers, transmits, receives.
/// A harness for tests with real peers, not the product's I/O layer (which batches syscalls and allocates nothing
/// per packet).
/// </summary>
internal sealed class UdpEndpointDriver(QuicEndpoint endpoint, Socket socket) : IDisposable
{
    private static readonly TimeSpan MaxPollWait = TimeSpan.FromMilliseconds(50);

    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly byte[] _receiveBuffer = new byte[65536];
    private readonly byte[] _sendBuffer = new byte[1500];

    public TimeSpan Now => _clock.Elapsed;

    public QuicEndpoint Endpoint => endpoint;

    public Socket Socket => socket;

    /// <summary>Runs due timers and sends everything the endpoint has ready.</summary>
    public void Flush()
    {
        TimeSpan now = Now;
        if (endpoint.NextTimeout(now) is { } due && due <= now) endpoint.HandleTimeout(now);
        while (endpoint.TryPollTransmit(now, _sendBuffer, out int length, out EndPoint? remote) && remote is not null)
        {
            socket.SendTo(_sendBuffer.AsSpan(0, length), SocketFlags.None, remote);
        }
    }

    /// <summary>Waits for datagrams or the next timer (at most <paramref name="limit"/>) and feeds what arrived.</summary>
    public void WaitAndReceive(TimeSpan? limit = null)
    {
        TimeSpan now = Now;
        TimeSpan wait = limit is { } l && l < MaxPollWait ? l : MaxPollWait;
        if (endpoint.NextTimeout(now) is { } next && next - now < wait) wait = next - now;
        if (wait < TimeSpan.Zero) wait = TimeSpan.Zero;

        if (!socket.Poll((int)wait.TotalMicroseconds, SelectMode.SelectRead)) return;
        EndPoint any = new IPEndPoint(socket.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0);
        while (socket.Available > 0)
        {
            EndPoint remote = any;
            int received = socket.ReceiveFrom(_receiveBuffer, ref remote);
            endpoint.HandleDatagram(Now, remote, _receiveBuffer.AsSpan(0, received));
        }
    }

    public void Dispose()
    {
        socket.Dispose();
        endpoint.Dispose();
    }
}
