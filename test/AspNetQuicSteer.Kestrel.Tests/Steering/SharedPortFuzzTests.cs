using System.Net;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using AspNetQuicSteer.Client;

namespace AspNetQuicSteer.Kestrel.Tests.Steering;

/// <summary>
/// Issue 6 acceptance: fuzzed datagrams of every shape on the shared port, built from live connections' real
/// datagrams (so they carry live CIDs of both generations) and sent from the live clients' own addresses, never make
/// a generation stateless-reset or close a connection (ARCHITECTURE.md invariant 1, RFC 9000 §10.3: a stateless
/// reset kills the connection whose CID it names). Counted: resets sent by each process, connections that failed.
/// </summary>
[Collection(SharedPortProcesses.Name)]
public sealed class SharedPortFuzzTests
{
    private const long DownloadLength = 24L * 1024 * 1024;
    private const int FuzzRounds = 1500;

    public static TheoryData<string> Dataplanes => new() { "ReuseportCbpf", "Forwarding" };

    [Theory]
    [MemberData(nameof(Dataplanes))]
    public async Task Fuzzed_datagrams_with_live_connection_ids_never_reset_or_close_a_connection(string dataplane)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Port steering is Linux-only.");
        using var port = new SharedPortFixture();
        SampleSiteProcess old = port.Start("v1", dataplane);
        SampleSiteProcess? next = null;
        try
        {
            await old.WaitForStateAsync("Active");
            using var oldRelay = new UdpRelay(port.EndPoint);
            using HttpClient oldClient = Client(oldRelay);
            using var release = new SemaphoreSlim(0);
            Task<long> oldDownload = SlowDownloadAsync(oldClient, "v1", release);

            next = port.Start("v2", dataplane);
            await next.WaitForStateAsync("Active");
            using var newRelay = new UdpRelay(port.EndPoint);
            using HttpClient newClient = Client(newRelay);
            Task<long> newDownload = SlowDownloadAsync(newClient, "v2", release);
            Assert.Equal("v2", await VersionOfAsync(newClient));

            var shapes = new Dictionary<string, int>();
            UdpRelay[] relays = [oldRelay, newRelay];
            for (int round = 0; round < FuzzRounds; round++)
            {
                UdpRelay source = relays[round % 2];
                byte[]? live = source.RecentShortHeader();
                if (live is null)
                {
                    await Task.Delay(5, TestContext.Current.CancellationToken);
                    continue;
                }

                (string shape, byte[] fuzzed) = Mutate(live);
                // Half the time from the other client's address: another generation's CID arriving from elsewhere.
                UdpRelay sender = Random.Shared.Next(4) == 0 ? relays[(round + 1) % 2] : source;
                sender.Inject(fuzzed);
                shapes[shape] = shapes.GetValueOrDefault(shape) + 1;
                if (round % 8 == 7) await Task.Delay(2, TestContext.Current.CancellationToken);
            }

            // Both connections are alive: the old one is draining (it got GOAWAY, so a new request moves to v2), the new
            // one still serves requests; the downloads on both finish exactly.
            string oldAnswer = await VersionOfAsync(oldClient);
            for (int i = 0; i < 50 && oldAnswer == "v1"; i++)
            {
                // GOAWAY may still be on its way: until it arrives, requests on the old connection are still v1's.
                await Task.Delay(100, TestContext.Current.CancellationToken);
                oldAnswer = await VersionOfAsync(oldClient);
            }

            Assert.Equal("v2", oldAnswer);
            Assert.Equal("v2", await VersionOfAsync(newClient));
            release.Release(2);
            long[] received = await Task.WhenAll(oldDownload, newDownload).WaitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken);
            Assert.All(received, r => Assert.Equal(DownloadLength, r));
            TestContext.Current.TestOutputHelper?.WriteLine($"{dataplane}: fuzzed " + string.Join(", ", shapes.Select(s => $"{s.Value} {s.Key}")));
        }
        finally
        {
            if (next is not null) await next.DisposeAsync();
            await old.DisposeAsync();
        }

        // Every fuzzed datagram named a live connection: neither its owner nor the other generation may reset it.
        foreach (SampleSiteProcess site in new[] { old, next! })
        {
            Match leaves = Regex.Match(site.Output, @"gen\d+ leaves: .*stateless resets sent (\d+)");
            Assert.True(leaves.Success, $"{site.Version} did not log its exit counters:\n{site.Output}");
            TestContext.Current.TestOutputHelper?.WriteLine($"{site.Version}: {leaves.Value}");
            Assert.Equal("0", leaves.Groups[1].Value);
        }
    }

    /// <summary>One mutation of a live short-header datagram; the shape name is for the report.</summary>
    private static (string Shape, byte[] Datagram) Mutate(byte[] live)
    {
        byte[] d = (byte[])live.Clone();
        switch (Random.Shared.Next(7))
        {
            case 0: // payload corruption: header protection and AEAD fail at the owner (RFC 9001 §5.3, §5.4)
                for (int i = 0; i < 1 + Random.Shared.Next(8); i++) d[13 + Random.Shared.Next(d.Length - 13)] ^= (byte)(1 + Random.Shared.Next(255));
                return ("corrupted payloads", d);
            case 1:
                return ("truncations", d[..Random.Shared.Next(1, d.Length)]);
            case 2:
                return ("extensions", [.. d, .. RandomNumberGenerator.GetBytes(1 + Random.Shared.Next(64))]);
            case 3: // the same bytes read as a long header: a garbage version (RFC 9000 §17.2)
                d[0] |= 0x80;
                return ("header-form flips", d);
            case 4: // a long header of version 0 (Version Negotiation shape, RFC 9000 §17.2.1) carrying the live CID
                d[0] = (byte)(0x80 | Random.Shared.Next(128));
                return ("version-0 headers", [d[0], 0, 0, 0, 0, 12, .. d.AsSpan(1, 12), 0, .. RandomNumberGenerator.GetBytes(32)]);
            case 5:
                d[0] = (byte)Random.Shared.Next(128);
                return ("random first bytes", d);
            default: // the live DCID with a random body of random length
                return ("random bodies", [d[0], .. d.AsSpan(1, 12), .. RandomNumberGenerator.GetBytes(Random.Shared.Next(0, 1200))]);
        }
    }

    private static HttpClient Client(UdpRelay relay) => new(new QuicSteeringHttp3Handler(new QuicSteeringHttp3HandlerOptions
    {
        ServerCertificateCustomValidationCallback = static (_, _, _, _) => true,
        // One retry, for a request the server rejected unprocessed (H3_REQUEST_REJECTED, RFC 9114 §4.1.1). A retry
        // would not hide a killed connection: it would open a new one, which lands on the active generation (the
        // version check fails for the old client), and the download on the dead connection would fail anyway.
        MaxRetries = 1,
    }))
    {
        BaseAddress = new Uri($"https://127.0.0.1:{relay.EndPoint.Port}/"),
        DefaultRequestVersion = HttpVersion.Version30,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        Timeout = TimeSpan.FromMinutes(2),
    };

    private static async Task<string> VersionOfAsync(HttpClient client)
    {
        using HttpResponseMessage response = await client.GetAsync("/hello", TestContext.Current.CancellationToken);
        response.EnsureSuccessStatusCode();
        return response.Headers.GetValues("x-app-version").Single();
    }

    /// <summary>Downloads /bytes/N, slowly until released, verifying the pattern (byte i = i mod 251).</summary>
    private static async Task<long> SlowDownloadAsync(HttpClient client, string version, SemaphoreSlim release)
    {
        using HttpResponseMessage response = await client.GetAsync($"/bytes/{DownloadLength}", HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);
        response.EnsureSuccessStatusCode();
        Assert.Equal(version, response.Headers.GetValues("x-app-version").Single());
        await using Stream body = await response.Content.ReadAsStreamAsync(TestContext.Current.CancellationToken);
        byte[] buffer = new byte[64 * 1024];
        long total = 0;
        bool released = false;
        while (true)
        {
            int read = await body.ReadAsync(buffer, TestContext.Current.CancellationToken);
            if (read == 0) return total;
            for (int i = 0; i < read; i++)
            {
                if (buffer[i] != (byte)((total + i) % 251)) Assert.Fail($"{version}: byte {total + i} is {buffer[i]}, expected {(total + i) % 251}");
            }

            total += read;
            if (!released) released = await release.WaitAsync(10, TestContext.Current.CancellationToken);
        }
    }
}
