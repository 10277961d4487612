using System.Net;
using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Endpoint;
using AspNetQuicSteer.Quic.Tests.Harness;
using CsCheck;

namespace AspNetQuicSteer.Quic.Tests.Connection;

/// <summary>
/// Random and mutated datagrams fed to a live server endpoint that holds an established connection (issue 3
/// acceptance): nothing throws, the live connection survives, junk leaves no state behind, and no address that
/// never proved itself receives more than 3x what it sent (RFC 9000 §8.1).
/// </summary>
public sealed class LiveEndpointFuzzTests
{
    private const int Iterations = 100_000;

    [Fact]
    public void HundredThousandHostileDatagramsNeverThrowAmplifyOrHurtTheLiveConnection()
    {
        using var pair = HandshakePair.Create();
        Assert.True(pair.RunHandshake());
        QuicConnection live = pair.ServerConnection!;

        // Real datagrams of this connection, to mutate: capture a few rounds of client traffic.
        var captured = new List<byte[]>();
        pair.Network.Filter = d =>
        {
            if (d.To.Equals(HandshakePair.ServerAddress)) captured.Add(d.Data);
            return [d];
        };
        for (int i = 0; i < 5; i++)
        {
            pair.Client.Ping();
            pair.Network.RunFor(TimeSpan.FromMilliseconds(100));
        }

        pair.Network.Filter = null;
        Assert.NotEmpty(captured);

        QuicEndpoint server = pair.Server;
        var receivedFrom = new Dictionary<EndPoint, long>();
        var sentTo = new Dictionary<EndPoint, long>();
        byte[] transmit = new byte[65536];
        TimeSpan now = pair.Network.Now;
        var random = new Random(1234);

        Gen<byte[]> randomBytes = Gen.Byte.Array[1, 1500];
        Gen<byte[]> mutated = Gen.Select(Gen.Int[0, captured.Count - 1], Gen.Int[1, 8], Gen.Int).Select((index, flips, seed) =>
        {
            byte[] copy = (byte[])captured[index].Clone();
            var r = new Random(seed);
            for (int f = 0; f < flips; f++) copy[r.Next(copy.Length)] ^= (byte)(1 << r.Next(8));
            return r.Next(4) == 0 ? copy[..r.Next(1, copy.Length)] : copy;
        });
        Gen<byte[]> fakeInitials = Gen.Byte.Array[1200, 1400].Select(bytes =>
        {
            // Long header, version 1, Initial, 8-byte DCID: gets past the header checks to the decryption.
            bytes[0] = 0xc3;
            bytes[1] = 0; bytes[2] = 0; bytes[3] = 0; bytes[4] = 1;
            bytes[5] = 8;
            return bytes;
        });
        Gen<byte[]> any = Gen.Frequency((3, randomBytes), (4, mutated), (2, fakeInitials));

        int count = 0;
        any.Sample(datagram =>
        {
            // Half of the junk comes from the live client's address (an on-path attacker), half from elsewhere.
            EndPoint from = random.Next(2) == 0 ? HandshakePair.ClientAddress : SimulatedNetwork.Address(100 + random.Next(50), 1000 + random.Next(50));
            receivedFrom[from] = receivedFrom.GetValueOrDefault(from) + datagram.Length;
            now += TimeSpan.FromMicroseconds(50);
            server.HandleDatagram(now, from, datagram);
            if (server.NextTimeout(now) is { } t && t <= now) server.HandleTimeout(now);
            while (server.TryPollTransmit(now, transmit, out int length, out EndPoint? to) && to is not null)
            {
                sentTo[to] = sentTo.GetValueOrDefault(to) + length;
            }

            count++;
        }, iter: Iterations, threads: 1);

        Assert.Equal(Iterations, count);

        // RFC 9000 §8.1: strangers never got more than 3x what they sent (stateless resets and VN included).
        foreach ((EndPoint to, long bytes) in sentTo)
        {
            if (to.Equals(HandshakePair.ClientAddress)) continue;
            Assert.True(bytes <= 3 * receivedFrom.GetValueOrDefault(to), $"{to}: sent {bytes}, received {receivedFrom.GetValueOrDefault(to)}");
        }

        // Junk created no connections; the live one is still up and still works.
        Assert.Equal(1, server.ConnectionCount);
        Assert.Equal(QuicConnectionState.Connected, live.State);
        long before = live.Stats.PacketsReceived;
        pair.Client.Ping();
        pair.Network.RunFor(TimeSpan.FromMilliseconds(200));
        Assert.True(live.Stats.PacketsReceived > before);
        Assert.Equal(QuicConnectionState.Connected, pair.Client.State);
    }
}
