using System.Net;
using AspNetQuicSteer.Client;

namespace AspNetQuicSteer.Kestrel.Tests.Steering;

/// <summary>
/// Issue 6 acceptance: two real server processes with live connections on the old one; switching the active
/// generation breaks nothing. Downloads in flight on the old generation finish with exact bytes, the old generation
/// sends GOAWAY so its clients' next requests move over, and every new connection lands on the new generation
/// (ARCHITECTURE.md §4 invariants 1–3), in each dataplane.
/// </summary>
[Collection(SharedPortProcesses.Name)]
public sealed class SharedPortLiveSwitchTests
{
    private const long DownloadLength = 48L * 1024 * 1024;
    private const int Downloads = 3;

    public static TheoryData<string> Dataplanes => new() { "ReuseportCbpf", "ReuseportEbpf", "Forwarding" };

    [Theory]
    [MemberData(nameof(Dataplanes))]
    public async Task Switching_the_active_generation_keeps_transfers_on_the_old_one_and_sends_new_connections_to_the_new_one(string dataplane)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Port steering is Linux-only.");
        Assert.SkipWhen(dataplane == "ReuseportEbpf" && Environment.UserName != "root", "loading eBPF needs root or CAP_BPF; the suite runs as root in CI");
        using var port = new SharedPortFixture();
        // The readers below hold their downloads open on purpose, for as long as the test needs (slow on 2 busy cores):
        // the old generation's drain timeout, which would cancel them (H3_REQUEST_CANCELLED), must not end them first.
        var longDrain = new Dictionary<string, string> { ["QuicSteering__DrainTimeout"] = "00:03:00" };
        await using SampleSiteProcess old = port.Start("v1", dataplane, environment: longDrain);
        await old.WaitForStateAsync("Active");

        var oldHandler = new QuicSteeringHttp3Handler(ClientOptions(maxRequestsPerConnection: 0));
        using var oldClient = new HttpClient(oldHandler)
        {
            BaseAddress = old.BaseAddress, DefaultRequestVersion = HttpVersion.Version30, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = TimeSpan.FromMinutes(2),
        };
        Assert.Equal("v1", await VersionOfAsync(oldClient));

        // Slow readers keep the old generation's downloads in flight across the switch.
        var progress = new long[Downloads];
        using var releaseReaders = new SemaphoreSlim(0);
        Task<long>[] downloads = [.. Enumerable.Range(0, Downloads).Select(i => DownloadAsync(oldClient, progress, i, releaseReaders))];
        await WaitUntilAsync(() => progress.All(p => p > 0), "every download started");

        await using SampleSiteProcess next = port.Start("v2", dataplane, environment: longDrain);
        await next.WaitForStateAsync("Active");
        await old.WaitForStateAsync("Draining");
        long[] atSwitch = [.. progress];
        Assert.All(atSwitch, p => Assert.InRange(p, 1, DownloadLength - 1)); // still in flight when the new generation took over

        // New connections: each request on its own connection (a handshake per request) lands on the new generation.
        using (var newClient = new HttpClient(new QuicSteeringHttp3Handler(ClientOptions(maxRequestsPerConnection: 1)))
               {
                   BaseAddress = next.BaseAddress, DefaultRequestVersion = HttpVersion.Version30, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
               })
        {
            for (int i = 0; i < 20; i++) Assert.Equal("v2", await VersionOfAsync(newClient));
        }

        // Draining (invariant 3): the old generation sent GOAWAY on its connection (RFC 9114 §5.2), so the old client's
        // next request opens a new connection, which the new generation serves; the downloads below GOAWAY's stream
        // ID go on.
        await WaitUntilAsync(() => oldHandler.GetStatistics().GoAwaysReceived > 0, "the old connection got GOAWAY");
        Assert.Equal("v2", await VersionOfAsync(oldClient));
        Assert.All(progress, p => Assert.InRange(p, 1, DownloadLength - 1));

        releaseReaders.Release(Downloads);
        long[] received = await Task.WhenAll(downloads).WaitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken);
        Assert.All(received, r => Assert.Equal(DownloadLength, r));
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{dataplane}: at the switch the downloads had {string.Join(", ", atSwitch.Select(p => $"{p / 1048576.0:0.0} MiB"))} of {DownloadLength / 1048576} MiB; all completed exactly");
        Assert.False(old.HasExited);
        Assert.False(next.HasExited);
    }

    private static QuicSteeringHttp3HandlerOptions ClientOptions(int maxRequestsPerConnection)
    {
        var options = new QuicSteeringHttp3HandlerOptions { ServerCertificateCustomValidationCallback = static (_, _, _, _) => true };
        if (maxRequestsPerConnection > 0) options.MaxRequestsPerConnection = maxRequestsPerConnection;
        return options;
    }

    private static async Task<string> VersionOfAsync(HttpClient client)
    {
        using HttpResponseMessage response = await client.GetAsync("/hello", TestContext.Current.CancellationToken);
        response.EnsureSuccessStatusCode();
        Assert.Equal(HttpVersion.Version30, response.Version);
        return response.Headers.GetValues("x-app-version").Single();
    }

    /// <summary>Reads /bytes/N slowly until released, checking the site's pattern (byte i = i mod 251) byte by byte.</summary>
    private static async Task<long> DownloadAsync(HttpClient client, long[] progress, int index, SemaphoreSlim release)
    {
        using HttpResponseMessage response = await client.GetAsync($"/bytes/{DownloadLength}", HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);
        response.EnsureSuccessStatusCode();
        Assert.Equal("v1", response.Headers.GetValues("x-app-version").Single());
        await using Stream body = await response.Content.ReadAsStreamAsync(TestContext.Current.CancellationToken);
        byte[] buffer = new byte[64 * 1024];
        long total = 0;
        bool released = false;
        while (true)
        {
            int read = await body.ReadAsync(buffer, TestContext.Current.CancellationToken);
            if (read == 0) break;
            for (int i = 0; i < read; i++)
            {
                if (buffer[i] != (byte)((total + i) % 251)) Assert.Fail($"download {index}: byte {total + i} is {buffer[i]}, expected {(total + i) % 251}");
            }

            total += read;
            Volatile.Write(ref progress[index], total);
            // Until released, about 2 MB/s per download: still running when the new generation activates.
            if (!released && total < DownloadLength / 2)
            {
                released = await release.WaitAsync(30, TestContext.Current.CancellationToken);
            }
        }

        return total;
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        for (int i = 0; i < 600 && !condition(); i++) await Task.Delay(50, TestContext.Current.CancellationToken);
        Assert.True(condition(), $"timed out waiting until {what}");
    }
}
