using System.Net;
using AspNetQuicSteer.Client;

namespace AspNetQuicSteer.Kestrel.Tests.Steering;

/// <summary>
/// A configured QUIC-LB server ID (draft-ietf-quic-load-balancers-21 §5.4, plaintext) appears in every connection ID
/// the generations of the port issue, so a load balancer in front of several hosts can route by it; a generation
/// configured with another layout is refused, since one port has one CID layout.
/// </summary>
[Collection(SharedPortProcesses.Name)]
public sealed class SharedPortQuicLbTests
{
    private const string ServerIdHex = "0a0b0c0d";

    [Fact]
    public async Task Live_connection_ids_carry_the_configured_server_id_and_a_different_layout_is_refused()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Port steering is Linux-only.");
        using var port = new SharedPortFixture();
        var layout = new Dictionary<string, string> { ["QuicSteering__Transport__QuicLbServerId"] = ServerIdHex, ["QuicSteering__Transport__QuicLbConfigRotation"] = "2" };
        await using SampleSiteProcess v1 = port.Start("v1", "ReuseportCbpf", environment: layout);
        await v1.WaitForStateAsync("Active");
        await using SampleSiteProcess v2 = port.Start("v2", "ReuseportCbpf", environment: layout);
        await v2.WaitForStateAsync("Active");

        // The client's short headers carry the server's CID as their destination (RFC 9000 §17.3.1).
        using var relay = new UdpRelay(port.EndPoint);
        using var client = new HttpClient(new QuicSteeringHttp3Handler(new QuicSteeringHttp3HandlerOptions
        {
            ServerCertificateCustomValidationCallback = static (_, _, _, _) => true,
        }))
        {
            BaseAddress = new Uri($"https://127.0.0.1:{relay.EndPoint.Port}/"),
            DefaultRequestVersion = HttpVersion.Version30,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        using (HttpResponseMessage response = await client.GetAsync("/hello", TestContext.Current.CancellationToken))
        {
            Assert.Equal("v2", response.Headers.GetValues("x-app-version").Single());
        }

        byte[] shortHeader = relay.RecentShortHeader() ?? throw new InvalidOperationException("no short-header datagram relayed");
        // §3.1: the first octet's top three bits are the config rotation; §3.3 self-encoded length: the low five bits
        // are the CID length − 1 (1 + 4-byte server ID + 8-byte nonce = 13); then the server ID (§5.4).
        Assert.Equal(2, shortHeader[1] >> 5);
        Assert.Equal(12, shortHeader[1] & 0x1F);
        Assert.Equal(ServerIdHex, Convert.ToHexString(shortHeader, 2, 4).ToLowerInvariant());

        // One port, one layout: a generation with another server ID is refused, naming the cause.
        await using SampleSiteProcess other = port.Start("v3", "ReuseportCbpf",
            environment: new Dictionary<string, string> { ["QuicSteering__Transport__QuicLbServerId"] = "0a0b0c0e" });
        Assert.NotEqual(0, await other.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("connection-ID layout differs from the port's", other.Output, StringComparison.Ordinal);
        Assert.Equal("v2", await port.VersionOverNewConnectionAsync());
    }
}
