using System.Net;
using System.Net.Sockets;
using AspNetQuicSteer.Quic.Tests.Interop;

namespace AspNetQuicSteer.Kestrel.Tests.Interop;

/// <summary>
/// Malformed and hostile datagrams on the HTTP/3 port never take the server down: they are dropped (RFC 9000 §5.2.2,
/// §12.2, §14.1; RFC 9001 §5.3), no error is logged, and real clients are served before, during and after.
/// </summary>
[Trait("Category", "Interop")]
[Collection(KestrelInteropGroup.Name)]
public sealed class HostileInputKestrelInteropTests
{
    private const int Seed = 9000;

    [Fact]
    public async Task TruncatedMutatedAndRandomDatagramsAreDroppedAndTheServerKeepsServing()
    {
        CancellationToken cancel = TestContext.Current.CancellationToken;
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        byte[] initial = await HostileDatagrams.CaptureClientInitialAsync(cancel);
        Assert.True(initial.Length >= 1200 && (initial[0] & 0xF0) == 0xC0, "not a client Initial: " + Convert.ToHexString(initial[..16]));
        IReadOnlyList<HostileDatagram> hostile = HostileDatagrams.Create(initial, Seed, randomCount: 2000);
        await using InteropTestServer server = await InteropTestServer.StartAsync(certificate, cancel);

        using Socket attacker = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        attacker.Bind(new IPEndPoint(IPAddress.Loopback, 0));

        // The genuine Initial from this socket is answered: the attacker's datagrams do reach the QUIC parser.
        await attacker.SendToAsync(initial, SocketFlags.None, server.EndPoint, cancel);
        byte[] reply = new byte[65535];
        using (CancellationTokenSource replyTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancel))
        {
            replyTimeout.CancelAfter(TimeSpan.FromSeconds(10));
            int length = await attacker.ReceiveAsync(reply, SocketFlags.None, replyTimeout.Token);
            Assert.True(length > 0 && (reply[0] & 0xF0) == 0xC0, "the server did not answer the genuine Initial with an Initial");
        }

        long receivedBefore = server.Counter("quicsteer.datagrams.received");
        await HostileDatagrams.SendAllAsync(attacker, server.EndPoint, hostile, cancel);

        // After the flood a real client is served normally; a second one while junk keeps arriving.
        GtlsClientRun after = await GtlsClient.RunAsync(server, new GtlsClientOptions { Paths = ["/hello"], Requests = 20 }, cancel);
        after.AssertAllOk(requests: 20, server.Describe());

        Task junk = HostileDatagrams.SendAllAsync(attacker, server.EndPoint, HostileDatagrams.Create(initial, Seed + 1, randomCount: 2000), cancel);
        GtlsClientRun during = await GtlsClient.RunAsync(server, new GtlsClientOptions { Paths = ["/bytes/1048576"], Requests = 4 }, cancel);
        await junk;
        during.AssertAllOk(requests: 4, server.Describe());

        // Nearly every datagram reached the server (nothing much lost in the kernel), and nothing was logged as an error.
        long delivered = server.Counter("quicsteer.datagrams.received") - receivedBefore;
        Assert.True(delivered >= hostile.Count, $"only {delivered} datagrams counted for {hostile.Count} sent\n" + server.Describe());
        Assert.True(!server.Problems.Any(p => p.Level >= Microsoft.Extensions.Logging.LogLevel.Error), server.Describe());
        // RFC 9001 §5.2/§9.5, RFC 9000 §5.2.2: no mutated or random Initial created connection state; only the genuine
        // Initial (and the same Initial re-sent inside the coalesced variants, same DCID) and the two gtlsclient runs did.
        Assert.True(server.Counter("quicsteer.connections") == 3, "junk created connections\n" + server.Describe());
        Assert.True(server.Counter("quicsteer.handshakes") == 2, server.Describe());
        Assert.Equal(24, server.Requests.Count(r => r is { Protocol: "HTTP/3", StatusCode: 200 }));
    }
}
