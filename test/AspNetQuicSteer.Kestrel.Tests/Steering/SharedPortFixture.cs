using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using AspNetQuicSteer.Client;
using AspNetQuicSteer.Steering;
using AspNetQuicSteer.Steering.Coordination;

namespace AspNetQuicSteer.Kestrel.Tests.Steering;

/// <summary>What the shared-port tests have in common: a private steering directory, a free port, the status view, crafted packets.</summary>
internal sealed class SharedPortFixture : IDisposable
{
    // The default layout of a port (SteeringMemberOptions.CreateDefaultLayout): 12-byte CIDs, 3-byte server ID, the
    // generation in the first nonce byte (CID offset 4), XOR-masked with the next one (offset 5).
    public const int ConnectionIdLength = 12;
    public const int GenerationOffset = 4;
    public const int MaskOffset = 5;

    public SharedPortFixture()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("quicsteer-port-").FullName;
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Port = FreeUdpPort();
    }

    public string Directory { get; }

    public int Port { get; }

    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    public SampleSiteProcess Start(string version, string dataplane, string? applicationName = null, string protocols = "Http3", string? cibirId = null,
        IReadOnlyDictionary<string, string>? environment = null) =>
        SampleSiteProcess.Start(version, Port, Directory, dataplane, applicationName, protocols: protocols, cibirId: cibirId, environment: environment);

    /// <summary>
    /// GET /hello over a new HTTP/3 connection (our handler, the sample's self-signed certificate accepted); returns
    /// the x-app-version of the generation that answered. One retry by default, for a request the server rejected
    /// unprocessed (H3_REQUEST_REJECTED, RFC 9114 §4.1.1).
    /// </summary>
    public Task<string> VersionOverNewConnectionAsync(QuicSteeringHttp3HandlerOptions? options = null, int retries = 1) =>
        VersionOverNewConnectionAsync(Port, options, retries);

    /// <inheritdoc cref="VersionOverNewConnectionAsync(QuicSteeringHttp3HandlerOptions?, int)"/>
    public static async Task<string> VersionOverNewConnectionAsync(int port, QuicSteeringHttp3HandlerOptions? options = null, int retries = 1)
    {
        options ??= new QuicSteeringHttp3HandlerOptions();
        options.ConnectTimeout = TimeSpan.FromSeconds(10);
        options.ResponseHeadersTimeout = TimeSpan.FromSeconds(20);
        options.MaxRetries = retries;
        using HttpClient client = Http3Client(options);
        client.Timeout = TimeSpan.FromSeconds(30);
        using HttpResponseMessage response = await client.GetAsync($"https://127.0.0.1:{port}/hello", TestContext.Current.CancellationToken);
        response.EnsureSuccessStatusCode();
        return response.Headers.GetValues("x-app-version").Single();
    }

    /// <summary>
    /// An HTTP/3-only client (RFC 9114) on our handler with <paramref name="options"/>, accepting the sample site's
    /// self-signed development certificate.
    /// </summary>
    public static HttpClient Http3Client(QuicSteeringHttp3HandlerOptions options) => Http3Client(new QuicSteeringHttp3Handler(AcceptSampleCertificate(options)));

    /// <summary>An HTTP/3-only client over <paramref name="handler"/> (whose options accept the sample's certificate).</summary>
    public static HttpClient Http3Client(QuicSteeringHttp3Handler handler) =>
        new(handler) { DefaultRequestVersion = HttpVersion.Version30, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };

    /// <summary>Accepts the sample site's self-signed development certificate: these tests check steering, not PKI.</summary>
    public static QuicSteeringHttp3HandlerOptions AcceptSampleCertificate(QuicSteeringHttp3HandlerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
#pragma warning disable CA5359
        options.ServerCertificateCustomValidationCallback = static (_, _, _, _) => true;
#pragma warning restore CA5359
        return options;
    }

    /// <summary>
    /// The coordinator's status view. While the hosting generation exits, its socket is briefly gone until a survivor
    /// re-hosts it (coordinator takeover): retried for up to 5 s.
    /// </summary>
    public async Task<StatusMessage> GetStatusAsync()
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                await using GenerationCoordinatorClient client = await GenerationCoordinatorClient.ConnectAsync(
                    ControlSocketPath.For(EndPoint, Directory), TestContext.Current.CancellationToken);
                return await client.GetStatusAsync(TestContext.Current.CancellationToken);
            }
            catch (Exception e) when (e is SocketException or IOException && attempt < 50)
            {
                await Task.Delay(100, TestContext.Current.CancellationToken);
            }
        }
    }

    public async Task<GenerationCounters> CountersOfAsync(int generation) =>
        (await GetStatusAsync()).Generations.First(g => g.Generation.Value == generation).Counters;

    /// <summary>A QUIC v1 Initial-shaped long header (RFC 9000 §17.2.2), 1200 bytes, random CIDs and payload.</summary>
    public static byte[] LongHeaderPacket()
    {
        byte[] packet = RandomNumberGenerator.GetBytes(1200);
        packet[0] = 0xC3;
        packet[1] = 0; packet[2] = 0; packet[3] = 0; packet[4] = 1;
        packet[5] = 8;  // DCID length; DCID at 6..13
        packet[14] = 8; // SCID length; SCID at 15..22
        return packet;
    }

    /// <summary>A 1-RTT short header (RFC 9000 §17.3.1) whose 12-byte DCID names <paramref name="generation"/> in the port's layout.</summary>
    public static byte[] ShortHeaderPacket(int generation, int length = 80)
    {
        byte[] packet = RandomNumberGenerator.GetBytes(length);
        packet[0] = (byte)(0x40 | (packet[0] & 0x3F & ~0x18)); // fixed bit, no key phase games
        packet[1 + GenerationOffset] = (byte)(generation ^ packet[1 + MaskOffset]);
        return packet;
    }

    /// <summary>
    /// Sends <paramref name="count"/> packets from one socket, paced (the forwarding path's Unix socket queue is
    /// net.unix.max_dgram_qlen = 10 deep), and waits until the status view accounts for all of them.
    /// </summary>
    public async Task<Dictionary<int, GenerationCounters>> SendAndCountAsync(Func<byte[]> packet, int count, IReadOnlyList<int> generations)
    {
        // Earlier traffic (clients' last packets, their closes) must be accounted before the baseline: reports come
        // every 250 ms, so wait for two equal snapshots 300 ms apart.
        Dictionary<int, GenerationCounters> before = await SnapshotAsync(generations);
        for (int attempt = 0; attempt < 20; attempt++)
        {
            await Task.Delay(300, TestContext.Current.CancellationToken);
            Dictionary<int, GenerationCounters> again = await SnapshotAsync(generations);
            bool settled = generations.All(g => again[g] == before[g]);
            before = again;
            if (settled) break;
        }

        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        for (int i = 0; i < count; i++)
        {
            await socket.SendToAsync(packet(), SocketFlags.None, EndPoint, TestContext.Current.CancellationToken);
            if (i % 4 == 3) await Task.Delay(2, TestContext.Current.CancellationToken);
        }

        // Reports come every 250 ms: wait until every datagram is accounted (routed somewhere) and one more period passed.
        Dictionary<int, GenerationCounters> after = before;
        for (int attempt = 0; attempt < 100; attempt++)
        {
            await Task.Delay(100, TestContext.Current.CancellationToken);
            after = await SnapshotAsync(generations);
            if (generations.Sum(g => (long)(after[g].Routed - before[g].Routed) + (long)(after[g].Dropped - before[g].Dropped)) >= count) break;
        }

        await Task.Delay(400, TestContext.Current.CancellationToken);
        after = await SnapshotAsync(generations);
        return generations.ToDictionary(g => g, g => new GenerationCounters(
            after[g].Sockets, after[g].Routed - before[g].Routed, after[g].Forwarded - before[g].Forwarded, after[g].Dropped - before[g].Dropped));
    }

    private async Task<Dictionary<int, GenerationCounters>> SnapshotAsync(IReadOnlyList<int> generations)
    {
        StatusMessage status = await GetStatusAsync();
        return generations.ToDictionary(g => g, g => status.Generations.First(row => row.Generation.Value == g).Counters);
    }

    /// <summary>A port free for UDP and for TCP (the TCP handoff tests use both).</summary>
    private static int FreeUdpPort()
    {
        for (int attempt = 0; ; attempt++)
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            int port = ((IPEndPoint)probe.LocalEndPoint!).Port;
            using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                tcp.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException) when (attempt < 20)
            {
            }
        }
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
