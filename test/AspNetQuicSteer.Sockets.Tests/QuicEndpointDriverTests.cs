using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Endpoint;
using AspNetQuicSteer.Quic.Tls;

namespace AspNetQuicSteer.Sockets.Tests;

public sealed partial class QuicEndpointDriverTests : IDisposable
{
    private const int DownloadLength = 10 * 1024 * 1024;

    /// <summary>Generous bound for a test's whole exchange on loopback; a correct run needs a fraction of it.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static readonly SslApplicationProtocol Alpn = new("driver-test");

    private readonly X509Certificate2 _certificate = CreateCertificate();

    public void Dispose() => _certificate.Dispose();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Client_downloads_10_MB_with_exact_bytes_and_io_is_batched(bool gro)
    {
        using QuicEndpointDriver server = CreateServer(gro, out DownloadServer app);
        server.Start();
        using QuicEndpointDriver client = CreateDriver(new QuicEndpoint(new QuicEndpointOptions()), gro);
        var download = new DownloadClient(client);
        client.TurnHook = download.Pump;
        client.Start();

        await client.InvokeAsync(() => download.Connect(server.LocalEndPoint, _certificate));
        long received = await download.Finished.WaitAsync(Bound, TestContext.Current.CancellationToken);

        Assert.Equal(DownloadLength, received);
        Assert.Equal(-1, download.FirstMismatch);
        Assert.True(download.HandshakeCompleted);
        Assert.Equal(DownloadLength, await server.InvokeAsync(() => app.BytesWritten));

        // Batching: several datagrams per send call at the sender, several per receive call at the receiver.
        Assert.True(server.LargestSendBatch > 1, $"largest send batch {server.LargestSendBatch}");
        Assert.True(server.DatagramsSent > server.Socket.SendCalls, $"sent {server.DatagramsSent} in {server.Socket.SendCalls} calls");
        Assert.True(client.LargestReceiveBatch > 1, $"largest receive batch {client.LargestReceiveBatch}");

        // Payload byte counters: everything the client's endpoint saw was sent by the server, and vice versa.
        Assert.InRange(client.BytesReceived, DownloadLength, server.BytesSent);
        Assert.InRange(server.BytesReceived, 1, client.BytesSent);
        Assert.True(client.BytesReceived >= client.DatagramsReceived, $"{client.BytesReceived} bytes in {client.DatagramsReceived} datagrams");

        // One peer each: the sockaddr cache allocated one endpoint per side, not one per datagram.
        Assert.Equal(1, client.RemoteEndPointsCreated);
        Assert.Equal(1, server.RemoteEndPointsCreated);
        Assert.Equal(0, client.DatagramErrors + server.DatagramErrors);
        Assert.False(client.Completion.IsCompleted);
        Assert.False(server.Completion.IsCompleted);
    }

    [Fact]
    public async Task Garbage_datagrams_do_not_stop_the_loop()
    {
        using QuicEndpointDriver server = CreateServer(gro: false, out _);
        server.Start();

        using var noise = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        noise.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var random = new Random(1234);
        const int garbage = 300;
        long garbageBytes = 0;
        for (int i = 0; i < garbage; i++)
        {
            byte[] datagram = new byte[i % 3 == 0 ? 1200 : random.Next(0, 64)];
            garbageBytes += datagram.Length;
            random.NextBytes(datagram);
            if (i % 5 == 0 && datagram.Length > 6)
            {
                // Long header, version 1, absurd connection-ID lengths and a truncated body.
                datagram[0] = 0xC0;
                datagram[1] = 0;
                datagram[2] = 0;
                datagram[3] = 0;
                datagram[4] = 1;
            }

            noise.SendTo(datagram, server.LocalEndPoint);
        }

        // The loop saw all of it and still runs: posted work completes and a real client still connects.
        long deadline = Environment.TickCount64 + (long)Bound.TotalMilliseconds;
        while (await server.InvokeAsync(() => server.DatagramsReceived) < garbage && Environment.TickCount64 < deadline)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        Assert.Equal(garbage, server.DatagramsReceived);
        Assert.Equal(garbageBytes, server.BytesReceived);
        Assert.False(server.Completion.IsCompleted);

        using QuicEndpointDriver client = CreateDriver(new QuicEndpoint(new QuicEndpointOptions()), gro: false);
        var download = new DownloadClient(client);
        client.TurnHook = download.Pump;
        client.Start();
        await client.InvokeAsync(() => download.Connect(server.LocalEndPoint, _certificate));
        long received = await download.Finished.WaitAsync(Bound, TestContext.Current.CancellationToken);

        Assert.Equal(DownloadLength, received);
        Assert.Equal(-1, download.FirstMismatch);
        Assert.Equal(2, server.RemoteEndPointsCreated); // the noise socket and the client
        Assert.False(server.Completion.IsCompleted);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("0.0.0.0")] // wildcard: also records each peer's dialled (IP_PKTINFO) address per datagram
    public async Task Receiving_from_many_known_peers_allocates_nothing_on_the_loop_thread(string bindAddress)
    {
        // A client-only endpoint drops 1-byte datagrams without allocating, so what is measured is the driver's loop.
        const int Peers = 64;
        var socket = new BatchedUdpSocket(SocketTestHelpers.Bind(IPAddress.Parse(bindAddress)));
        using var driver = new QuicEndpointDriver(socket, new QuicEndpoint(new QuicEndpointOptions()));
        driver.Start();
        var target = new IPEndPoint(IPAddress.Loopback, driver.LocalEndPoint.Port);
        var peers = new Socket[Peers];
        try
        {
            for (int i = 0; i < Peers; i++)
            {
                peers[i] = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                peers[i].Bind(new IPEndPoint(IPAddress.Loopback, 0));
            }

            byte[] datagram = [0x40];
            await SendAndWait(driver, peers, target, datagram, rounds: 4); // warm-up: JIT, one table entry per peer
            long before = await ReadAllocatedBytesOnLoopThread(driver);
            const int Rounds = 40;
            await SendAndWait(driver, peers, target, datagram, Rounds);
            long allocated = await ReadAllocatedBytesOnLoopThread(driver) - before;

            Assert.Equal(Peers * (4 + Rounds), driver.DatagramsReceived);
            Assert.Equal(Peers * (4 + Rounds), driver.BytesReceived);
            Assert.Equal(Peers, driver.RemoteEndPointsCreated);
            Assert.Equal(0, allocated);
        }
        finally
        {
            foreach (Socket? peer in peers) peer?.Dispose();
        }
    }

    /// <summary>
    /// Reads the loop thread's allocation counter from posted work that stores it in a field: unlike InvokeAsync, no
    /// task completion runs on the loop thread after the reading, so the window holds nothing but loop turns.
    /// </summary>
    private static async Task<long> ReadAllocatedBytesOnLoopThread(QuicEndpointDriver driver)
    {
        long value = -1;
        driver.Post(() => Volatile.Write(ref value, GC.GetAllocatedBytesForCurrentThread()));
        long deadline = Environment.TickCount64 + (long)Bound.TotalMilliseconds;
        while (Volatile.Read(ref value) < 0 && Environment.TickCount64 < deadline)
        {
            await Task.Delay(5, TestContext.Current.CancellationToken);
        }

        Assert.True(value >= 0, "the posted reading never ran");
        return value;
    }

    private static async Task SendAndWait(QuicEndpointDriver driver, Socket[] peers, IPEndPoint target, byte[] datagram, int rounds)
    {
        long total = driver.DatagramsReceived + ((long)rounds * peers.Length);
        for (int round = 0; round < rounds; round++)
        {
            foreach (Socket peer in peers) peer.SendTo(datagram, target);
            if (round % 4 == 3)
            {
                await Task.Delay(1, TestContext.Current.CancellationToken); // let the receiver drain: no buffer overflow
            }
        }

        long deadline = Environment.TickCount64 + (long)Bound.TotalMilliseconds;
        while (driver.DatagramsReceived < total && Environment.TickCount64 < deadline)
        {
            await Task.Delay(5, TestContext.Current.CancellationToken);
        }
    }

    [Theory]
    [InlineData("0.0.0.0", false)]
    [InlineData("::", false)]   // dual mode: the IPv4 client's datagrams arrive as ::ffff:127.0.0.1 → ::ffff:127.0.0.2
    [InlineData("::", true)]    // dual mode on both ends: the client dials ::ffff:127.0.0.2 itself
    public async Task Wildcard_bound_server_replies_from_the_address_the_client_dialled(string bindAddress, bool dualModeClient)
    {
        // 127.0.0.2 is loopback (127/8) but not the route's preferred source for 127.0.0.1, so a reply whose source
        // address is chosen by routing comes from 127.0.0.1. The client's socket is connected to 127.0.0.2:port and
        // the kernel hands it only datagrams from exactly that address (udp(7)): the handshake completes only if
        // the server sets the source address per peer (IP_PKTINFO / IPV6_PKTINFO on send).
        const int Length = 256 * 1024;
        var serverSocket = new BatchedUdpSocket(UdpSocketFactory.Bind(new IPEndPoint(IPAddress.Parse(bindAddress), 0), 4 << 20, 4 << 20));
        using QuicEndpointDriver server = CreateServer(serverSocket, Length, out DownloadServer app);
        Assert.True(server.RepliesFromDialledAddress);
        server.Start();

        IPAddress dialled = dualModeClient ? IPAddress.Parse("::ffff:127.0.0.2") : IPAddress.Parse("127.0.0.2");
        var serverAddress = new IPEndPoint(dialled, server.LocalEndPoint.Port);
        Socket clientSocket = dualModeClient
            ? SocketTestHelpers.Bind(IPAddress.IPv6Any, dualMode: true)
            : SocketTestHelpers.Bind(IPAddress.Loopback);
        clientSocket.Connect(serverAddress);
        using var client = new QuicEndpointDriver(new BatchedUdpSocket(clientSocket), new QuicEndpoint(new QuicEndpointOptions()));
        var download = new DownloadClient(client);
        client.TurnHook = download.Pump;
        client.Start();

        await client.InvokeAsync(() => download.Connect(serverAddress, _certificate));
        long received = await download.Finished.WaitAsync(Bound, TestContext.Current.CancellationToken);

        Assert.True(download.HandshakeCompleted);
        Assert.Equal(Length, received);
        Assert.Equal(-1, download.FirstMismatch);
        Assert.Equal(Length, await server.InvokeAsync(() => app.BytesWritten));
        Assert.Equal(1, server.RemoteEndPointsCreated);
        Assert.Equal(0, server.SendErrors);
    }

    [Fact]
    public void Specific_binds_leave_the_source_address_to_routing()
    {
        using QuicEndpointDriver loopback = CreateDriver(new QuicEndpoint(new QuicEndpointOptions()), gro: false);
        Assert.False(loopback.RepliesFromDialledAddress);
    }

    [Fact]
    public async Task Dispose_ends_the_loop_thread_and_cancels_queued_work()
    {
        QuicEndpointDriver driver = CreateDriver(new QuicEndpoint(new QuicEndpointOptions()), gro: false);
        int turnThread = 0;
        driver.TurnHook = () => turnThread = Environment.CurrentManagedThreadId;
        driver.Start();

        int workThread = await driver.InvokeAsync(() => Environment.CurrentManagedThreadId).WaitAsync(Bound, TestContext.Current.CancellationToken);
        Assert.NotEqual(Environment.CurrentManagedThreadId, workThread);
        Assert.Equal(workThread, await driver.InvokeAsync(() => turnThread));

        driver.Dispose(); // joins the loop thread (bounded)

        Assert.True(driver.Completion.IsCompletedSuccessfully);
        Task<int> late = driver.InvokeAsync(() => 1);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => late);
        Assert.Throws<ObjectDisposedException>(() => driver.Socket.ReceiveBatch(new DatagramBatch(1)));
    }

    [Fact]
    public async Task Dispose_from_the_loop_thread_stops_after_the_turn_and_releases_the_socket()
    {
        QuicEndpointDriver driver = CreateDriver(new QuicEndpoint(new QuicEndpointOptions()), gro: false);
        int turnsAfterDispose = 0;
        bool disposed = false;
        driver.TurnHook = () =>
        {
            if (disposed) turnsAfterDispose++;
        };
        driver.Start();
        driver.Post(() =>
        {
            driver.Dispose();
            disposed = true;
        });

        await driver.Completion.WaitAsync(Bound, TestContext.Current.CancellationToken);

        Assert.True(driver.Completion.IsCompletedSuccessfully); // the rest of the turn ran on live resources
        Assert.Equal(1, turnsAfterDispose); // the turn in progress finished; no further turn started
        Assert.Throws<ObjectDisposedException>(() => driver.Socket.ReceiveBatch(new DatagramBatch(1)));
    }

    [Fact]
    public async Task StopAsync_completes_and_a_throwing_hook_faults_the_driver()
    {
        using QuicEndpointDriver stopped = CreateDriver(new QuicEndpoint(new QuicEndpointOptions()), gro: false);
        stopped.Start();
        Assert.Equal(1, await stopped.InvokeAsync(() => 1));
        await stopped.StopAsync().WaitAsync(Bound, TestContext.Current.CancellationToken);
        Assert.True(stopped.Completion.IsCompletedSuccessfully);

        using QuicEndpointDriver faulty = CreateDriver(new QuicEndpoint(new QuicEndpointOptions()), gro: false);
        faulty.Post(() => throw new InvalidOperationException("application bug"));
        faulty.Start();
        InvalidOperationException error = await Assert.ThrowsAsync<InvalidOperationException>(() => faulty.Completion.WaitAsync(Bound, TestContext.Current.CancellationToken));
        Assert.Equal("application bug", error.Message);
    }

    [Fact]
    public async Task Exceptions_in_InvokeAsync_go_to_the_caller_not_the_loop()
    {
        using QuicEndpointDriver driver = CreateDriver(new QuicEndpoint(new QuicEndpointOptions()), gro: false);
        driver.Start();
        await Assert.ThrowsAsync<FormatException>(() => driver.InvokeAsync<int>(() => throw new FormatException()));
        Assert.Equal(2, await driver.InvokeAsync(() => 2));
        Assert.False(driver.Completion.IsCompleted);
    }

    private QuicEndpointDriver CreateServer(bool gro, out DownloadServer app)
    {
        Socket socket = SocketTestHelpers.Bind(IPAddress.Loopback);
        socket.SendBufferSize = 4 * 1024 * 1024;
        return CreateServer(new BatchedUdpSocket(socket, new BatchedUdpSocketOptions { EnableGro = gro }), DownloadLength, out app);
    }

    private QuicEndpointDriver CreateServer(BatchedUdpSocket socket, long length, out DownloadServer app,
        IConnectionIdGenerator? connectionIds = null, DatagramDivert? divert = null, Action? onTurn = null)
    {
        X509Certificate2 certificate = _certificate;
        var endpoint = new QuicEndpoint(new QuicEndpointOptions
        {
            ServerTls = transportParameters => new TlsServerHandshake(new TlsServerOptions
            {
                Certificate = certificate,
                ApplicationProtocols = [Alpn],
                TransportParameters = transportParameters,
            }),
            Connection = new QuicConnectionOptions { ConnectionIdGenerator = connectionIds ?? new RandomConnectionIdGenerator() },
        });
        var driver = new QuicEndpointDriver(socket, endpoint, new QuicEndpointDriverOptions { Divert = divert });
        var server = new DownloadServer(endpoint, length);
        driver.TurnHook = onTurn is null ? server.Pump : () =>
        {
            onTurn();
            server.Pump();
        };
        app = server;
        return driver;
    }

    private static QuicEndpointDriver CreateDriver(QuicEndpoint endpoint, bool gro)
    {
        Socket socket = SocketTestHelpers.Bind(IPAddress.Loopback);
        socket.SendBufferSize = 4 * 1024 * 1024;
        var batched = new BatchedUdpSocket(socket, new BatchedUdpSocketOptions { EnableGro = gro });
        return new QuicEndpointDriver(batched, endpoint);
    }

    private static X509Certificate2 CreateCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        DateTimeOffset now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));
    }

    /// <summary>Byte <paramref name="offset"/> of the download: position-dependent, so shifts and corruption show.</summary>
    private static byte Expected(long offset) => (byte)((offset * 7) + (offset >> 13));

    /// <summary>Server application: answers each client stream's request (ignored content, FIN) with the download.</summary>
    private sealed class DownloadServer(QuicEndpoint endpoint, long downloadLength)
    {
        private readonly List<QuicConnection> _connections = [];
        private readonly Dictionary<(QuicConnection, ulong), long> _written = [];
        private readonly byte[] _chunk = new byte[64 * 1024];
        private readonly byte[] _scratch = new byte[1024];

        public long BytesWritten { get; private set; }

        public void Pump()
        {
            while (endpoint.TryAccept(out QuicConnection accepted)) _connections.Add(accepted);
            foreach (QuicConnection connection in _connections)
            {
                while (connection.TryPollEvent(out _)) { }
                while (connection.TryAcceptStream(out ulong id)) _written[(connection, id)] = 0;
                while (connection.TryPollStreamEvent(out _)) { }
            }

            foreach (((QuicConnection connection, ulong id), long offset) in _written)
            {
                if (offset < 0) continue; // done
                while (connection.ReadStream(id, _scratch, out _) > 0) { } // the request's content does not matter

                long position = offset;
                while (position < downloadLength)
                {
                    int length = (int)Math.Min(_chunk.Length, downloadLength - position);
                    for (int i = 0; i < length; i++) _chunk[i] = Expected(position + i);
                    int accepted = connection.WriteStream(id, _chunk.AsSpan(0, length), fin: false);
                    position += accepted;
                    BytesWritten += accepted;
                    if (accepted < length) break; // backpressure: continue in a later turn
                }

                if (position == downloadLength)
                {
                    connection.WriteStream(id, default, fin: true);
                    position = -1;
                }

                _written[(connection, id)] = position;
            }
        }
    }

    /// <summary>Client application: connects, sends one request once the handshake completes, checks every byte.</summary>
    private sealed class DownloadClient(QuicEndpointDriver driver)
    {
        private readonly TaskCompletionSource<long> _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly byte[] _buffer = new byte[64 * 1024];
        private QuicConnection? _connection;
        private ulong? _stream;
        private long _received;

        public Task<long> Finished => _finished.Task;

        public bool HandshakeCompleted { get; private set; }

        public long FirstMismatch { get; private set; } = -1;

        public bool Connect(IPEndPoint server, X509Certificate2 trusted)
        {
            // A wildcard-bound server's own LocalEndPoint is not dialable: dial loopback on its port instead.
            IPEndPoint target = server.Address.Equals(IPAddress.Any) || server.Address.Equals(IPAddress.IPv6Any)
                ? new IPEndPoint(IPAddress.Loopback, server.Port)
                : server;
            _connection = driver.Endpoint.Connect(driver.Now, target, tp => new TlsClientHandshake(new TlsClientOptions
            {
                ServerName = "localhost",
                ApplicationProtocols = [Alpn],
                TransportParameters = tp,
                TrustedRootCertificates = [trusted],
            }));
            return true;
        }

        public void Pump()
        {
            QuicConnection? connection = _connection;
            if (connection is null || _finished.Task.IsCompleted) return;
            while (connection.TryPollEvent(out QuicConnectionEvent e))
            {
                if (e.Kind == QuicConnectionEventKind.HandshakeCompleted) HandshakeCompleted = true;
                if (e.Kind == QuicConnectionEventKind.Closed)
                {
                    _finished.TrySetException(new InvalidOperationException($"connection closed: {connection.CloseError}"));
                    return;
                }
            }

            while (connection.TryPollStreamEvent(out _)) { }
            if (!HandshakeCompleted) return;
            if (_stream is null)
            {
                if (!connection.TryOpenStream(bidirectional: true, out ulong id)) return;
                connection.WriteStream(id, "GET /download\r\n"u8, fin: true);
                _stream = id;
            }

            while (true)
            {
                int read = connection.ReadStream(_stream.Value, _buffer, out bool fin);
                for (int i = 0; i < read && FirstMismatch < 0; i++)
                {
                    if (_buffer[i] != Expected(_received + i)) FirstMismatch = _received + i;
                }

                _received += read;
                if (fin)
                {
                    _finished.TrySetResult(_received);
                    return;
                }

                if (read == 0) return;
            }
        }
    }
}
