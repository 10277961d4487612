using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Endpoint;
using AspNetQuicSteer.Quic.Endpoint.Stateless;
using AspNetQuicSteer.Quic.Tls;
using AspNetQuicSteer.Sockets;

namespace QuicHandshakeHarness;

/// <summary>
/// Drives the sans-IO endpoint over one real UDP socket with a single-threaded poll loop. This is a
/// test harness for handshakes with real peers, not the product's I/O driver (that is the Sockets layer,
/// which batches syscalls and allocates nothing per packet). It prints one machine-readable line per event.
/// </summary>
internal sealed class HandshakeServer : IDisposable
{
    private readonly HarnessOptions _options;
    private readonly TextWriter _log;
    private readonly X509Certificate2 _certificate;
    private readonly QuicEndpoint _endpoint;
    private readonly Socket _socket;
    private readonly UdpEndpointDriver? _driver;
    private readonly QuicEndpointDriver? _batched;
    private readonly List<TrackedConnection> _connections = [];
    private int _handshakes;

    public HandshakeServer(HarnessOptions options, TextWriter log)
    {
        _options = options;
        _log = log;
        _certificate = options.CertificatePath is { } certPath
            ? X509Certificate2.CreateFromPemFile(certPath, options.KeyPath)
            : CreateDevelopmentCertificate();

        _endpoint = new QuicEndpoint(new QuicEndpointOptions
        {
            Admission = options.Retry ? InitialAdmissionPolicies.RetryWhenNoValidToken : InitialAdmissionPolicies.AlwaysAccept,
            ServerTls = transportParameters => new TlsServerHandshake(new TlsServerOptions
            {
                Certificate = _certificate,
                ApplicationProtocols = options.ApplicationProtocols,
                TransportParameters = transportParameters,
                Groups = options.Groups.Count > 0 ? options.Groups : TlsDefaults.ServerGroups,
                CipherSuites = options.CipherSuites.Count > 0 ? options.CipherSuites : TlsDefaults.CipherSuites,
            }),
        });

        _socket = new Socket(options.Address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        _socket.Bind(new IPEndPoint(options.Address, options.Port));
        if (options.Batched)
        {
            _socket.ReceiveBufferSize = 4 * 1024 * 1024;
            _socket.SendBufferSize = 4 * 1024 * 1024;
            _batched = new QuicEndpointDriver(new BatchedUdpSocket(_socket, new BatchedUdpSocketOptions { EnableGro = true }), _endpoint);
        }
        else
        {
            _driver = new UdpEndpointDriver(_endpoint, _socket);
        }
    }

    public int Run(CancellationToken cancellationToken)
    {
        _log.WriteLine($"LISTENING {_socket.LocalEndPoint} alpn={string.Join(',', _options.ApplicationProtocols)} cert={_certificate.Subject}");
        _log.Flush();
        if (_batched is not null) return RunBatched(_batched, cancellationToken);

        UdpEndpointDriver driver = _driver!;
        while (!cancellationToken.IsCancellationRequested)
        {
            TimeSpan now = driver.Now;
            if (_options.Timeout > TimeSpan.Zero && now > _options.Timeout)
            {
                _log.WriteLine($"TIMEOUT after {_options.Timeout.TotalSeconds:0.#}s handshakes={_handshakes} connections={_endpoint.ConnectionCount} dropped_datagrams={_endpoint.Stats.DatagramsDropped}");
                return _options.ExitAfterHandshakes > 0 && _handshakes < _options.ExitAfterHandshakes ? 1 : 0;
            }

            // Events first: a connection the endpoint reaped during the last flush still reports its Closed event.
            CollectEvents(now);
            if (IsDone())
            {
                _log.WriteLine($"DONE handshakes={_handshakes}");
                return 0;
            }

            driver.Flush();

            TimeSpan? untilClose = null;
            foreach (TrackedConnection tracked in _connections)
            {
                if (tracked.CloseAt is { } closeAt && (untilClose is null || closeAt - now < untilClose)) untilClose = closeAt - now;
            }

            driver.WaitAndReceive(untilClose);
        }

        return 0;
    }

    /// <summary>
    /// The same server on the batched driver: its loop thread runs the endpoint, and the turn hook does what the
    /// poll loop above does between I/O (events, hq-interop pumping, closes, exit conditions). This thread waits.
    /// </summary>
    private int RunBatched(QuicEndpointDriver driver, CancellationToken cancellationToken)
    {
        var exit = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        driver.TurnHook = () =>
        {
            if (exit.Task.IsCompleted) return;
            TimeSpan now = driver.Now;
            if (_options.Timeout > TimeSpan.Zero && now > _options.Timeout)
            {
                _log.WriteLine($"TIMEOUT after {_options.Timeout.TotalSeconds:0.#}s handshakes={_handshakes} connections={_endpoint.ConnectionCount} dropped_datagrams={_endpoint.Stats.DatagramsDropped}");
                exit.TrySetResult(_options.ExitAfterHandshakes > 0 && _handshakes < _options.ExitAfterHandshakes ? 1 : 0);
                return;
            }

            CollectEvents(now);
            if (IsDone())
            {
                _log.WriteLine($"DONE handshakes={_handshakes}");
                exit.TrySetResult(0);
            }
        };

        using CancellationTokenRegistration registration = cancellationToken.Register(() => exit.TrySetResult(0));
        driver.Start();
        Task.WaitAny([exit.Task, driver.Completion], CancellationToken.None); // cancellation completes exit
        driver.StopAsync().GetAwaiter().GetResult(); // rethrows if the loop faulted
        _log.WriteLine($"BATCHED_IO datagrams_in={driver.DatagramsReceived} receive_calls={driver.Socket.ReceiveCalls} datagrams_out={driver.DatagramsSent} send_calls={driver.Socket.SendCalls} gso={driver.Socket.GsoEnabled} gro={driver.Socket.GroEnabled}");
        _log.Flush();
        return exit.Task.IsCompleted ? exit.Task.Result : 1;
    }

    private bool IsDone() =>
        _options.ExitAfterHandshakes > 0 && _handshakes >= _options.ExitAfterHandshakes && _endpoint.ConnectionCount == 0 && _connections.Count == 0;

    private void CollectEvents(TimeSpan now)
    {
        while (_endpoint.TryAccept(out QuicConnection accepted))
        {
            _connections.Add(new TrackedConnection(accepted));
        }

        for (int i = _connections.Count - 1; i >= 0; i--)
        {
            TrackedConnection tracked = _connections[i];
            QuicConnection connection = tracked.Connection;
            while (connection.TryPollEvent(out QuicConnectionEvent e))
            {
                switch (e.Kind)
                {
                    case QuicConnectionEventKind.HandshakeCompleted:
                        _handshakes++;
                        if (_options.WwwRoot is { } www && connection.Tls.NegotiatedApplicationProtocol == "hq-interop")
                        {
                            tracked.Hq = new HqServerSession(connection, www);
                        }

                        IQuicTlsSession tls = connection.Tls;
                        _log.WriteLine(
                            $"HANDSHAKE_COMPLETE cid={connection.LocalConnectionId} alpn={tls.NegotiatedApplicationProtocol} " +
                            $"cipher={tls.CipherSuite} group={(tls as TlsServerHandshake)?.NegotiatedGroup} hrr={(tls as TlsServerHandshake)?.UsedHelloRetryRequest} sni={tls.ServerName ?? "-"} " +
                            $"one_rtt_keys=installed rtt_ms={connection.Rtt.SmoothedRtt.TotalMilliseconds:0.###}");
                        if (tracked.Hq is null) tracked.CloseAt = now + _options.CloseAfter;
                        break;
                    case QuicConnectionEventKind.HandshakeConfirmed:
                        _log.WriteLine($"HANDSHAKE_CONFIRMED cid={connection.LocalConnectionId}");
                        break;
                    case QuicConnectionEventKind.Closed:
                        _log.WriteLine($"CONNECTION_CLOSED cid={connection.LocalConnectionId} reason={connection.CloseError} packets_in={connection.Stats.PacketsReceived} packets_out={connection.Stats.PacketsSent} dropped={connection.Stats.PacketsDropped} lost={connection.Stats.PacketsLost} requests={tracked.Hq?.RequestsServed ?? 0} bytes_served={tracked.Hq?.BytesServed ?? 0} retry={connection.LocalTransportParameters.RetrySourceConnectionId is not null} key_updates={connection.KeyUpdates} migrations={connection.Migrations}");
                        _connections.RemoveAt(i);
                        break;
                }
            }

            tracked.Hq?.Pump();

            if (tracked.CloseAt is { } closeAt && closeAt <= now && connection.State == QuicConnectionState.Connected)
            {
                // H3_NO_ERROR (RFC 9114 §8.1): the harness serves no requests; it closes cleanly after the handshake.
                connection.Close(now, 0x100, "handshake harness: handshake only");
                tracked.CloseAt = null;
            }
        }

        _log.Flush();
    }

    internal static X509Certificate2 CreateDevelopmentCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(IPAddress.Loopback);
        san.AddIpAddress(IPAddress.IPv6Loopback);
        request.CertificateExtensions.Add(san.Build());
        DateTimeOffset now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(30));
    }

    public void Dispose()
    {
        _driver?.Dispose();
        _batched?.Dispose();
        _certificate.Dispose();
    }

    private sealed class TrackedConnection(QuicConnection connection)
    {
        public QuicConnection Connection { get; } = connection;

        public TimeSpan? CloseAt { get; set; }

        public HqServerSession? Hq { get; set; }
    }
}
