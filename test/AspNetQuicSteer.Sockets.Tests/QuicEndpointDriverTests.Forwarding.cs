using System.Net;
using AspNetQuicSteer.Quic.Endpoint;
using AspNetQuicSteer.Steering;
using AspNetQuicSteer.Steering.ConnectionIds;
using AspNetQuicSteer.Steering.Forwarding;
using AspNetQuicSteer.Steering.Kernel;
using AspNetQuicSteer.Steering.Routing;

namespace AspNetQuicSteer.Sockets.Tests;

/// <summary>
/// The forwarding dataplane end to end (ARCHITECTURE.md §6, invariant 1): two generations on one UDP port
/// (SO_REUSEPORT), each with its own endpoint and CID generation. A classic BPF program sends every datagram to the
/// old generation's socket, so everything for the new generation must be forwarded to it over the Unix socket and
/// answered from the shared port.
/// </summary>
public sealed partial class QuicEndpointDriverTests
{
    private static readonly GenerationId OldGeneration = new(1), NewGeneration = new(2);

    [Fact]
    public async Task A_connection_to_the_new_generation_works_when_every_datagram_lands_on_the_old_one()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "SO_REUSEPORT steering and Unix-socket forwarding are Linux-only.");
        string directory = Directory.CreateTempSubdirectory("quicsteer-fwd-").FullName;
        try
        {
            using SteeringConnectionIdGenerator oldIds = Generator(OldGeneration);
            using SteeringConnectionIdGenerator newIds = Generator(NewGeneration);
            SteeringField field = oldIds.KernelReadableField!.Value;

            var oldSocket = ReuseportSocket.Bind(new IPEndPoint(IPAddress.Loopback, 0)); // joins first: index 0
            var shared = (IPEndPoint)oldSocket.LocalEndPoint!;
            var newSocket = ReuseportSocket.Bind(shared);
            oldSocket.SendBufferSize = newSocket.SendBufferSize = 4 * 1024 * 1024;

            // The new generation is active: long headers (new connections) belong to it, wherever they arrive.
            var table = new SteeringTable(field, oldIds.ConnectionIdLength,
                [new LiveGeneration(OldGeneration, new DataplaneTarget(0)), new LiveGeneration(NewGeneration, new DataplaneTarget(1))],
                NewGeneration);
            using var oldForwarding = new ForwardingEndpoint(directory, shared, OldGeneration);
            using var newForwarding = new ForwardingEndpoint(directory, shared, NewGeneration);
            var oldDivert = new ForwardingDivert(OldGeneration, table, oldForwarding, shared);
            var newDivert = new ForwardingDivert(NewGeneration, table, newForwarding, shared);

            using QuicEndpointDriver oldServer = CreateServer(new BatchedUdpSocket(oldSocket), DownloadLength, out DownloadServer oldApp, oldIds, oldDivert.TryDivert, oldDivert.FlushPending);
            using QuicEndpointDriver newServer = CreateServer(new BatchedUdpSocket(newSocket), DownloadLength, out DownloadServer newApp, newIds, newDivert.TryDivert, newDivert.FlushPending);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            Task oldInbox = oldForwarding.RunReceiveLoopAsync(new byte[ForwardedDatagram.MaxPayloadLength],
                (in ForwardedDatagramHeader header, ReadOnlySpan<byte> payload) => oldServer.Inject(header.GetRemoteEndPoint(), payload), stop.Token);
            Task newInbox = newForwarding.RunReceiveLoopAsync(new byte[ForwardedDatagram.MaxPayloadLength],
                (in ForwardedDatagramHeader header, ReadOnlySpan<byte> payload) => newServer.Inject(header.GetRemoteEndPoint(), payload), stop.Token);

            // Kernel steering that gets it wrong on purpose: every datagram to socket index 0, the old generation.
            ReuseportSocket.AttachCbpf(oldSocket, ReuseportSteeringProgram.Build(field, oldIds.ConnectionIdLength, 0, new Dictionary<GenerationId, int>()));
            oldServer.Start();
            newServer.Start();

            using QuicEndpointDriver client = CreateDriver(new QuicEndpoint(new QuicEndpointOptions()), gro: false);
            var download = new DownloadClient(client);
            client.TurnHook = download.Pump;
            client.Start();
            await client.InvokeAsync(() => download.Connect(shared, _certificate));
            long received = await download.Finished.WaitAsync(Bound, TestContext.Current.CancellationToken);

            Assert.Equal(DownloadLength, received);
            Assert.Equal(-1, download.FirstMismatch);
            Assert.Equal(DownloadLength, await newServer.InvokeAsync(() => newApp.BytesWritten)); // served by the new generation
            Assert.Equal(0, await oldServer.InvokeAsync(() => oldApp.BytesWritten));
            Assert.Equal(0, newServer.DatagramsReceived); // the kernel never delivered to it…
            // …everything came forwarded. The last ones may still be in the Unix socket's queue: let them arrive.
            for (int i = 0; i < 100 && newServer.DatagramsInjected < oldDivert.Forwarded; i++) await Task.Delay(20, TestContext.Current.CancellationToken);
            Assert.True(oldDivert.Forwarded > 0 && oldDivert.Forwarded == newServer.DatagramsInjected,
                $"forwarded {oldDivert.Forwarded}, injected {newServer.DatagramsInjected}");
            // The old one processed none itself: each datagram it received was forwarded, or dropped when the owner's
            // queue was full (net.unix.max_dgram_qlen, 10 by default) and the hold-back ring overflowed too; QUIC recovers those as loss.
            Assert.Equal(oldServer.DatagramsReceived, oldServer.DatagramsDiverted);
            Assert.Equal(oldServer.DatagramsDiverted, await oldServer.InvokeAsync(() => oldDivert.Forwarded + oldDivert.ForwardFailed + oldDivert.PendingCount));
            Assert.Equal(0, oldServer.Endpoint.Stats.StatelessResetsSent + newServer.Endpoint.Stats.StatelessResetsSent);
            TestContext.Current.SendDiagnosticMessage($"forwarded {oldDivert.Forwarded} ({oldDivert.Deferred} after waiting for room), dropped {oldDivert.ForwardFailed}");

            await stop.CancelAsync();
            await Task.WhenAll(oldInbox, newInbox).WaitAsync(Bound, TestContext.Current.CancellationToken);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static SteeringConnectionIdGenerator Generator(GenerationId generation) => new(new SteeringConnectionIdOptions
    {
        QuicLb = new QuicLbConfiguration(1, 4, 8, selfEncodeLength: true),
        ServerId = new byte[] { 0xA0, 0xA1, 0xA2, 0xA3 },
        Generation = generation,
    });
}
