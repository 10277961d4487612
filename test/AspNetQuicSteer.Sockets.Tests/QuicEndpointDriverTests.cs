using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Endpoint;
using AspNetQuicSteer.Quic.Tls;

namespace AspNetQuicSteer.Sockets.Tests;

public sealed class QuicEndpointDriverTests : IDisposable
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
        for (int i = 0; i < garbage; i++)
        {
            byte[] datagram = new byte[i % 3 == 0 ? 1200 : random.Next(0, 64)];
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

    [Fact]
    public async Task Receiving_from_a_known_peer_allocates_nothing_per_datagram_on_the_loop_thread()
    {
        // A client-only endpoint drops 1-byte datagrams without allocating, so what is measured is the driver's loop.
        using QuicEndpointDriver driver = CreateDriver(new QuicEndpoint(new QuicEndpointOptions()), gro: false);
        driver.Start();
        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        peer.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        byte[] datagram = [0x40];

        await SendAndWait(driver, peer, datagram, 64, 64); // warm-up: JIT, the peer's cache entry
        long before = await driver.InvokeAsync(GC.GetAllocatedBytesForCurrentThread);
        const int measured = 2000;
        await SendAndWait(driver, peer, datagram, measured, 64 + measured);
        long allocated = await driver.InvokeAsync(GC.GetAllocatedBytesForCurrentThread) - before;

        Assert.Equal(64 + measured, driver.DatagramsReceived);
        Assert.Equal(1, driver.RemoteEndPointsCreated);
        Assert.True(allocated < measured, $"{allocated} bytes allocated on the loop thread for {measured} datagrams");
    }

    private static async Task SendAndWait(QuicEndpointDriver driver, Socket peer, byte[] datagram, int count, long total)
    {
        for (int i = 0; i < count; i++)
        {
            peer.SendTo(datagram, driver.LocalEndPoint);
            if (i % 256 == 255)
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
        X509Certificate2 certificate = _certificate;
        var endpoint = new QuicEndpoint(new QuicEndpointOptions
        {
            ServerTls = transportParameters => new TlsServerHandshake(new TlsServerOptions
            {
                Certificate = certificate,
                ApplicationProtocols = [Alpn],
                TransportParameters = transportParameters,
            }),
        });
        QuicEndpointDriver driver = CreateDriver(endpoint, gro);
        var server = new DownloadServer(endpoint);
        driver.TurnHook = server.Pump;
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
    private sealed class DownloadServer(QuicEndpoint endpoint)
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
                while (position < DownloadLength)
                {
                    int length = (int)Math.Min(_chunk.Length, DownloadLength - position);
                    for (int i = 0; i < length; i++) _chunk[i] = Expected(position + i);
                    int accepted = connection.WriteStream(id, _chunk.AsSpan(0, length), fin: false);
                    position += accepted;
                    BytesWritten += accepted;
                    if (accepted < length) break; // backpressure: continue in a later turn
                }

                if (position == DownloadLength)
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
            _connection = driver.Endpoint.Connect(driver.Now, new IPEndPoint(IPAddress.Loopback, server.Port), tp => new TlsClientHandshake(new TlsClientOptions
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
