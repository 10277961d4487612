using System.Net;
using System.Net.Sockets;

namespace AspNetQuicSteer.Kestrel.Tests.Steering;

/// <summary>
/// A UDP relay between one QUIC client and the shared port, for fuzzing with live connection IDs: it keeps the
/// client's recent datagrams and can inject datagrams from the very address the server knows the connection by,
/// so whatever a server sends in response (a stateless reset, a close) reaches the real client.
/// </summary>
internal sealed class UdpRelay : IDisposable
{
    private readonly Socket _downstream = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly Socket _upstream = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly IPEndPoint _server;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _lock = new();
    private readonly List<byte[]> _captured = [];
    private readonly Task _clientToServer, _serverToClient;
    private EndPoint? _client;
    private int _next;

    public UdpRelay(IPEndPoint server)
    {
        _server = server;
        _downstream.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _upstream.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _clientToServer = Task.Run(ClientToServerAsync);
        _serverToClient = Task.Run(ServerToClientAsync);
    }

    /// <summary>Where the client should connect.</summary>
    public IPEndPoint EndPoint => (IPEndPoint)_downstream.LocalEndPoint!;

    public long ToClient { get; private set; }

    /// <summary>A recent client datagram with a short header (a live, server-issued destination CID), or null.</summary>
    public byte[]? RecentShortHeader()
    {
        lock (_lock)
        {
            List<byte[]> shorts = [.. _captured.Where(d => (d[0] & 0x80) == 0)];
            return shorts.Count == 0 ? null : shorts[Random.Shared.Next(shorts.Count)];
        }
    }

    /// <summary>Sends <paramref name="datagram"/> to the server from the client connection's address.</summary>
    public void Inject(byte[] datagram) => _upstream.SendTo(datagram, _server);

    private async Task ClientToServerAsync()
    {
        byte[] buffer = new byte[65536];
        EndPoint any = new IPEndPoint(IPAddress.Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _downstream.ReceiveFromAsync(buffer, SocketFlags.None, any, _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _client = received.RemoteEndPoint;
            byte[] datagram = buffer.AsSpan(0, received.ReceivedBytes).ToArray();
            lock (_lock)
            {
                if (_captured.Count < 256) _captured.Add(datagram);
                else _captured[_next++ % 256] = datagram;
            }

            try
            {
                await _upstream.SendToAsync(datagram, SocketFlags.None, _server, _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
        }
    }

    private async Task ServerToClientAsync()
    {
        byte[] buffer = new byte[65536];
        EndPoint any = new IPEndPoint(IPAddress.Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                SocketReceiveFromResult received = await _upstream.ReceiveFromAsync(buffer, SocketFlags.None, any, _stop.Token);
                if (_client is { } client)
                {
                    await _downstream.SendToAsync(buffer.AsMemory(0, received.ReceivedBytes), SocketFlags.None, client, _stop.Token);
                    ToClient++;
                }
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                // ICMP port unreachable from a previous send: keep relaying
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _downstream.Dispose();
        _upstream.Dispose();
        Task.WaitAll([_clientToServer, _serverToClient], TimeSpan.FromSeconds(2));
        _stop.Dispose();
    }
}
