using System.Net;
using System.Security.Cryptography;
using AspNetQuicSteer.Client;
using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Wire;
using AspNetQuicSteer.Steering.Routing;

namespace AspNetQuicSteer.Kestrel.Tests.Steering;

/// <summary>
/// Port-sharing matrix, "different app with CIBIR" (draft-banks-quic-cibir-01 §2.2): a second app with a CIBIR ID
/// shares the default app's port. Clients that put the ID in their source CID reach it, every other new
/// connection reaches the default app, and neither app's activation displaces the other's active generation.
/// </summary>
[Collection(SharedPortProcesses.Name)]
public sealed class SharedPortCibirTests
{
    private const string CibirHex = "b10c";

    [Theory]
    [InlineData("ReuseportCbpf")]
    [InlineData("Forwarding")]
    public async Task A_cibir_app_shares_the_port_with_the_default_app(string dataplane)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Port steering is Linux-only.");
        using var port = new SharedPortFixture();
        await using SampleSiteProcess shop = port.Start("shop-v1", dataplane, applicationName: "shop");
        await shop.WaitForStateAsync("Active");
        await using SampleSiteProcess blog = port.Start("blog-v1", dataplane, applicationName: "blog", cibirId: CibirHex);
        await blog.WaitForStateAsync("Active");
        await Task.Delay(300, TestContext.Current.CancellationToken);
        Assert.DoesNotContain("is now Draining", shop.Output, StringComparison.Ordinal); // each app has its own active generation

        for (int i = 0; i < 10; i++)
        {
            Assert.Equal("blog-v1", await port.VersionOverNewConnectionAsync(CibirClient()));
            Assert.Equal("shop-v1", await port.VersionOverNewConnectionAsync());
        }

        // draft-banks-quic-cibir-01 §2.1: a client that carries the ID but not cibir_encoding is refused by the CIBIR app.
        QuicSteeringHttp3HandlerOptions withoutParameter = CibirClient();
        withoutParameter.ExtensionTransportParameters = default;
        var refused = await Assert.ThrowsAnyAsync<HttpRequestException>(() => port.VersionOverNewConnectionAsync(withoutParameter, retries: 0));
        TestContext.Current.TestOutputHelper?.WriteLine($"without cibir_encoding: {refused.GetType().Name}: {refused.Message}");

        // Counted per process: long headers whose source CID carries the ID reach the CIBIR app, the rest the default app.
        int shopGeneration = await shop.Generation, blogGeneration = await blog.Generation;
        var counts = await port.SendAndCountAsync(() => CibirLongHeader(Convert.FromHexString(CibirHex)), 100, [shopGeneration, blogGeneration]);
        Assert.Equal(100UL, counts[blogGeneration].Routed);
        Assert.Equal(0UL, counts[shopGeneration].Routed);
        counts = await port.SendAndCountAsync(SharedPortFixture.LongHeaderPacket, 100, [shopGeneration, blogGeneration]);
        Assert.Equal(100UL, counts[shopGeneration].Routed);
        Assert.Equal(0UL, counts[blogGeneration].Routed);
    }

    /// <summary>An Initial-shaped long header whose 8-byte source CID starts with the CIBIR ID (RFC 9000 §17.2.2).</summary>
    private static byte[] CibirLongHeader(byte[] cibir)
    {
        byte[] packet = SharedPortFixture.LongHeaderPacket();
        cibir.CopyTo(packet.AsSpan(15));
        return packet;
    }

    /// <summary>A CIBIR client: the ID in its source CIDs, cibir_encoding sent, and the server's echo required (draft §2.1).</summary>
    private static QuicSteeringHttp3HandlerOptions CibirClient()
    {
        var encoding = new CibirEncoding(CibirHex.Length / 2, 0);
        byte[] parameter = new byte[encoding.ParameterLength];
        encoding.TryWriteParameter(parameter, out _);
        return new QuicSteeringHttp3HandlerOptions
        {
            ConnectionIdGenerator = new CibirConnectionIds(Convert.FromHexString(CibirHex)),
            ExtensionTransportParameters = parameter,
            ValidatePeerTransportParameters = server =>
            {
                CibirValidation validation = CibirEncoding.ValidateServerParameters(server.Span, encoding);
                return validation.IsValid ? null : new QuicProtocolException(validation.Error!.Value, validation.Describe(encoding));
            },
        };
    }

    /// <summary>A CIBIR client's source CIDs: the app's ID at offset 0, then random bytes (draft-banks-quic-cibir-01 §2).</summary>
    private sealed class CibirConnectionIds(byte[] prefix) : IConnectionIdGenerator
    {
        public int ConnectionIdLength => 8;

        public ConnectionId Generate()
        {
            Span<byte> bytes = stackalloc byte[ConnectionIdLength];
            RandomNumberGenerator.Fill(bytes);
            prefix.CopyTo(bytes);
            return new ConnectionId(bytes);
        }

        public bool Validate(ReadOnlySpan<byte> connectionId) => connectionId.Length == ConnectionIdLength && connectionId.StartsWith(prefix);
    }
}
