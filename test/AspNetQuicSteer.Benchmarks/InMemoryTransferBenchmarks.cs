using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Endpoint;
using AspNetQuicSteer.Quic.Tls;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;

namespace AspNetQuicSteer.Benchmarks;

/// <summary>
/// A 100 MB stream download between a client and a server endpoint in one process, datagrams handed over directly
/// (no loss, no latency): the cost of the sans-IO stack alone — packetization, protection, ACKs, recovery,
/// congestion control, flow control. Allocated bytes / packets gives allocations per packet.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 3, invocationCount: 1)]
public class InMemoryTransferBenchmarks : IDisposable
{
    private const int Size = 100 * 1024 * 1024;
    private static readonly IPEndPoint ServerAddress = new(IPAddress.Loopback, 443);
    private static readonly IPEndPoint ClientAddress = new(IPAddress.Loopback, 50000);

    private readonly byte[] _datagram = new byte[1500];
    private readonly byte[] _chunk = new byte[256 * 1024];
    private X509Certificate2 _certificate = null!;
    private QuicEndpoint _server = null!;
    private QuicEndpoint _client = null!;
    private QuicConnection _clientConnection = null!;
    private QuicConnection _serverConnection = null!;
    private TimeSpan _now;

    /// <summary>Packets sent by both sides in the last invocation (for allocations per packet).</summary>
    public static long LastPackets { get; private set; }

    [IterationSetup]
    public void Setup()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        _certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddDays(1));
        _server = new QuicEndpoint(new QuicEndpointOptions
        {
            ServerTls = tp => new TlsServerHandshake(new TlsServerOptions { Certificate = _certificate, ApplicationProtocols = [SslApplicationProtocol.Http3], TransportParameters = tp }),
        });
        _client = new QuicEndpoint(new QuicEndpointOptions());
        _now = TimeSpan.FromSeconds(1);
        _clientConnection = _client.Connect(_now, ServerAddress, tp => new TlsClientHandshake(new TlsClientOptions
        {
            ServerName = "localhost",
            ApplicationProtocols = [SslApplicationProtocol.Http3],
            TransportParameters = tp,
            TrustedRootCertificates = [_certificate],
        }));
        while (!_clientConnection.IsHandshakeConfirmed)
        {
            EnsureAlive();
            Step();
        }

        _server.TryAccept(out _serverConnection);
    }

    [Benchmark]
    public long Download100MB()
    {
        long packetsBefore = _clientConnection.Stats.PacketsSent + _serverConnection.Stats.PacketsSent;
        _clientConnection.TryOpenStream(true, out ulong clientStream);
        _clientConnection.WriteStream(clientStream, "GET /\r\n"u8, fin: true);
        ulong? serverStream = null;
        long sent = 0, received = 0;
        bool fin = false;
        while (!fin)
        {
            if (serverStream is null && _serverConnection.TryAcceptStream(out ulong id)) serverStream = id;
            if (serverStream is { } s && sent < Size)
            {
                int n;
                while (sent < Size && (n = _serverConnection.WriteStream(s, _chunk.AsSpan(0, (int)Math.Min(_chunk.Length, Size - sent)), fin: false)) > 0) sent += n;
                if (sent == Size) _serverConnection.WriteStream(s, default, fin: true);
            }

            int read;
            while ((read = _clientConnection.ReadStream(clientStream, _chunk, out fin)) > 0 || fin)
            {
                received += read;
                if (fin) break;
            }

            while (_clientConnection.TryPollStreamEvent(out _)) { }
            while (_serverConnection.TryPollStreamEvent(out _)) { }
            EnsureAlive();
            Step();
        }

        LastPackets = _clientConnection.Stats.PacketsSent + _serverConnection.Stats.PacketsSent - packetsBefore;
        Console.WriteLine($"// packets={LastPackets} received={received}");
        return received;
    }

    [IterationCleanup]
    public void Cleanup()
    {
        _server.Dispose();
        _client.Dispose();
        _certificate.Dispose();
    }

    public void Dispose()
    {
        _server?.Dispose();
        _client?.Dispose();
        _certificate?.Dispose();
        GC.SuppressFinalize(this);
    }

    private void EnsureAlive()
    {
        if (_clientConnection.State >= QuicConnectionState.Closing || _now > TimeSpan.FromHours(1))
        {
            throw new InvalidOperationException($"Transfer failed: {_clientConnection.State} {_clientConnection.CloseError} at {_now}.");
        }
    }

    /// <summary>Moves every ready datagram across, then advances time to the next timer if nothing moved.</summary>
    private void Step()
    {
        bool moved = false;
        while (_server.TryPollTransmit(_now, _datagram, out int length, out _))
        {
            _client.HandleDatagram(_now, ServerAddress, _datagram.AsSpan(0, length));
            moved = true;
        }

        while (_client.TryPollTransmit(_now, _datagram, out int length, out _))
        {
            _server.HandleDatagram(_now, ClientAddress, _datagram.AsSpan(0, length));
            moved = true;
        }

        if (moved) return;
        TimeSpan? next = Min(_server.NextTimeout(_now), _client.NextTimeout(_now));
        _now = next is { } t && t > _now ? t : _now + TimeSpan.FromMicroseconds(100);
        _server.HandleTimeout(_now);
        _client.HandleTimeout(_now);
    }

    private static TimeSpan? Min(TimeSpan? a, TimeSpan? b) => a is null ? b : b is null ? a : (a < b ? a : b);
}
