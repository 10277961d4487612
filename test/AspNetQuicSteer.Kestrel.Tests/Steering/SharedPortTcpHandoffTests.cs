using System.Net;
using System.Net.Sockets;

namespace AspNetQuicSteer.Kestrel.Tests.Steering;

/// <summary>
/// Issue 6 "handoff": Kestrel's TCP listener (HTTP/1.1, HTTP/2) on a shared port passes from generation to
/// generation with SCM_RIGHTS (unix(7)) instead of a second bind (which would fail with EADDRINUSE). The old
/// generation's exit never closes the listening socket: no TCP connection attempt is refused across it.
/// </summary>
[Collection(SharedPortProcesses.Name)]
public sealed class SharedPortTcpHandoffTests
{
    [Fact]
    public async Task The_tcp_listener_is_handed_to_the_next_generation_and_no_connection_is_refused_when_the_old_one_exits()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "SCM_RIGHTS handoff is implemented for Linux.");
        using var port = new SharedPortFixture();
        SampleSiteProcess old = port.Start("v1", "ReuseportCbpf", protocols: "Http1AndHttp2AndHttp3");
        try
        {
            await old.WaitForStateAsync("Active");
            await using SampleSiteProcess next = port.Start("v2", "ReuseportCbpf", protocols: "Http1AndHttp2AndHttp3");
            await next.WaitForStateAsync("Active");
            int oldGeneration = await old.Generation;
            Assert.Contains($"TCP listener on 127.0.0.1:{port.Port} adopted from gen{oldGeneration}", next.Output, StringComparison.Ordinal);

            // While both run, both accept from the one listening socket.
            var versions = new HashSet<string>();
            for (int i = 0; i < 30; i++) versions.Add(await TcpVersionAsync(port, HttpVersion.Version20));
            Assert.Subset(new HashSet<string> { "v1", "v2" }, versions);

            // Connect continuously while the old generation exits: the socket outlives its descriptor in v1.
            using var stop = new CancellationTokenSource();
            Task<(int Connected, int Refused)> prober = ProbeAsync(port.EndPoint, stop.Token);
            await Task.Delay(200, TestContext.Current.CancellationToken);
            await old.DisposeAsync(); // SIGTERM and wait
            await Task.Delay(300, TestContext.Current.CancellationToken);
            await stop.CancelAsync();
            (int connected, int refused) = await prober;
            TestContext.Current.TestOutputHelper?.WriteLine($"TCP connects across the old generation's exit: {connected} accepted, {refused} refused; seen versions during overlap: {string.Join(", ", versions)}");
            Assert.Equal(0, refused);
            Assert.True(connected > 10, $"only {connected} connects");

            foreach (Version version in new[] { HttpVersion.Version11, HttpVersion.Version20 })
            {
                for (int i = 0; i < 10; i++) Assert.Equal("v2", await TcpVersionAsync(port, version));
            }
        }
        finally
        {
            await old.DisposeAsync();
        }
    }

    private static async Task<string> TcpVersionAsync(SharedPortFixture port, Version version)
    {
#pragma warning disable CA5359 // the sample's self-signed development certificate; the test is about sockets, not trust
        using var handler = new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = static (_, _, _, _) => true } };
#pragma warning restore CA5359
        using var client = new HttpClient(handler) { DefaultRequestVersion = version, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using HttpResponseMessage response = await client.GetAsync($"https://127.0.0.1:{port.Port}/hello", TestContext.Current.CancellationToken);
        response.EnsureSuccessStatusCode();
        Assert.Equal(version, response.Version);
        return response.Headers.GetValues("x-app-version").Single();
    }

    private static async Task<(int, int)> ProbeAsync(IPEndPoint endPoint, CancellationToken cancellationToken)
    {
        int connected = 0, refused = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await socket.ConnectAsync(endPoint, CancellationToken.None);
                connected++;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
            {
                refused++;
            }

            await Task.Delay(5, CancellationToken.None);
        }

        return (connected, refused);
    }
}
