using System.Diagnostics;
using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Tls;
using AspNetQuicSteer.Quic.Tls.Messages;
using CsCheck;

namespace AspNetQuicSteer.Quic.Tests.Tls;

/// <summary>
/// Random and mutated inputs to every message parser and to live sessions: only <see cref="TlsAlertException"/>
/// may escape (RFC 8446 §6: every failure is an alert), and never internal_error (which marks a local bug).
/// </summary>
public sealed class TlsFuzzTests
{
    private const int RandomInputs = 100_000;
    private const int MutatedInputs = 100_000;

    private static readonly Lazy<Corpus> s_corpus = new(Corpus.Capture);

    private static readonly Action<byte[]>[] s_parsers =
    [
        b => ClientHelloMessage.Decode(b),
        b => ServerHelloMessage.Decode(b),
        b => EncryptedExtensionsMessage.Decode(b),
        b => CertificateMessage.Decode(b),
        b => CertificateRequestMessage.Decode(b),
        b => CertificateVerifyMessage.Decode(b),
        b => FinishedMessage.Decode(b, 32),
        b => NewSessionTicketMessage.Decode(b),
    ];

    [Fact]
    public void RandomInputs_ParsersAndLiveServerOnlyRaiseAlerts()
    {
        int alerts = 0;
        Gen.Select(Gen.Int[0, s_parsers.Length - 1], Gen.Byte.Array[0, 400], Gen.Bool).Sample(
            (parser, bytes, withHeader) =>
            {
                // Each input goes to one parser (all eight covered evenly) ...
                alerts += ExpectOnlyAlerts(() => s_parsers[parser](bytes));

                // ... and to a live server (configuration deferred, so no crypto cost) as raw CRYPTO data or
                // behind a valid ClientHello header.
                byte[] data = withHeader ? WithHeader(TlsHandshakeType.ClientHello, bytes) : bytes;
                alerts += ExpectOnlyAlerts(() => new TlsServerHandshake().ReadHandshake(EncryptionLevel.Initial, data));
            },
            iter: RandomInputs,
            threads: 1);
        Assert.True(alerts > RandomInputs * 3 / 2, $"Only {alerts} alerts: the inputs did not exercise the parsers.");
    }

    [Fact]
    public void MutatedRealMessages_ParsersAndLiveServerOnlyRaiseAlerts()
    {
        Corpus corpus = s_corpus.Value;
        int accepted = 0;
        Gen.Select(Gen.Int[0, corpus.Messages.Length - 1], Gen.Int).Sample(
            (index, seed) =>
            {
                (TlsHandshakeType type, byte[] message) = corpus.Messages[index];
                byte[] mutated = Mutate(message, new Random(seed));
                ReadOnlySpan<byte> body = mutated.AsSpan(Math.Min(4, mutated.Length));
                byte[] bodyArray = body.ToArray();
                ExpectOnlyAlerts(() => ParserFor(type)(bodyArray));

                if (type == TlsHandshakeType.ClientHello)
                {
                    TlsServerHandshake server = new();
                    if (ExpectOnlyAlerts(() => server.ReadHandshake(EncryptionLevel.Initial, mutated)) == 0 && server.IsAwaitingConfiguration)
                    {
                        accepted++;
                    }
                }
            },
            iter: MutatedInputs,
            threads: 1);
        Assert.True(accepted > 0, "No mutated ClientHello survived; the mutations are too destructive to be useful.");
    }

    [Fact]
    public void MutatedRealMessages_LiveConfiguredSessionsOnlyRaiseAlerts()
    {
        // Full crypto per input, so fewer iterations: mutated ClientHellos into a configured server, and mutated
        // ServerHello / server flight messages into a client that has just sent its ClientHello.
        Corpus corpus = s_corpus.Value;
        TlsServerOptions serverOptions = TlsTestPump.ServerOptions();
        TlsClientOptions clientOptions = TlsTestPump.ClientOptions();
        Stopwatch watch = Stopwatch.StartNew();
        int iterations = 0;
        Gen.Select(Gen.Int[0, corpus.Messages.Length - 1], Gen.Int).Sample(
            (index, seed) =>
            {
                iterations++;
                (TlsHandshakeType type, byte[] message) = corpus.Messages[index];
                byte[] mutated = Mutate(message, new Random(seed));
                if (type == TlsHandshakeType.ClientHello)
                {
                    using TlsServerHandshake server = new(serverOptions);
                    ExpectOnlyAlerts(() => server.ReadHandshake(EncryptionLevel.Initial, mutated));
                    return;
                }

                using TlsClientHandshake client = new(clientOptions);
                client.Start();
                if (type == TlsHandshakeType.ServerHello)
                {
                    ExpectOnlyAlerts(() => client.ReadHandshake(EncryptionLevel.Initial, mutated));
                    return;
                }

                // Reach the Handshake level with the captured ServerHello, then deliver the preceding real
                // messages of the flight unmodified and this one mutated.
                if (ExpectOnlyAlerts(() => client.ReadHandshake(EncryptionLevel.Initial, corpus.ServerHello)) != 0)
                {
                    return;
                }

                ExpectOnlyAlerts(() =>
                {
                    foreach ((TlsHandshakeType t, byte[] m) in corpus.Messages.Skip(corpus.FlightStart).Take(index - corpus.FlightStart))
                    {
                        client.ReadHandshake(EncryptionLevel.Handshake, m);
                    }

                    client.ReadHandshake(EncryptionLevel.Handshake, mutated);
                });
            },
            iter: 3_000,
            threads: 1);
        Assert.Equal(3_000, iterations);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"Took {watch.Elapsed}.");
    }

    private static Action<byte[]> ParserFor(TlsHandshakeType type) => type switch
    {
        TlsHandshakeType.ClientHello => s_parsers[0],
        TlsHandshakeType.ServerHello => s_parsers[1],
        TlsHandshakeType.EncryptedExtensions => s_parsers[2],
        TlsHandshakeType.Certificate => s_parsers[3],
        TlsHandshakeType.CertificateRequest => s_parsers[4],
        TlsHandshakeType.CertificateVerify => s_parsers[5],
        TlsHandshakeType.Finished => s_parsers[6],
        _ => s_parsers[7],
    };

    private static int ExpectOnlyAlerts(Action action)
    {
        try
        {
            action();
            return 0;
        }
        catch (TlsAlertException e)
        {
            // internal_error is only produced by wrapping an unexpected exception: a bug.
            Assert.True(e.Alert != TlsAlert.InternalError, e.ToString());
            return 1;
        }
    }

    private static byte[] WithHeader(TlsHandshakeType type, byte[] body)
        => [(byte)type, (byte)(body.Length >> 16), (byte)(body.Length >> 8), (byte)body.Length, .. body];

    /// <summary>Bit flips, byte overwrites, truncation, insertion/deletion, with the header length kept consistent half the time.</summary>
    private static byte[] Mutate(byte[] original, Random random)
    {
        List<byte> bytes = [.. original];
        int operations = random.Next(1, 4);
        for (int i = 0; i < operations && bytes.Count > 0; i++)
        {
            int position = random.Next(bytes.Count);
            switch (random.Next(6))
            {
                case 0:
                    bytes[position] ^= (byte)(1 << random.Next(8));
                    break;
                case 1:
                    bytes[position] = (byte)random.Next(256);
                    break;
                case 2:
                    bytes.RemoveRange(position, bytes.Count - position);
                    break;
                case 3:
                    bytes.Insert(position, (byte)random.Next(256));
                    break;
                case 4:
                    bytes.RemoveAt(position);
                    break;
                default:
                    // Length fields are the interesting target: perturb a byte just before a plausible vector.
                    bytes[position] = (byte)(bytes[position] + random.Next(-2, 3));
                    break;
            }
        }

        byte[] result = [.. bytes];
        if (result.Length >= 4 && random.Next(2) == 0)
        {
            int length = result.Length - 4;
            result[1] = (byte)(length >> 16);
            result[2] = (byte)(length >> 8);
            result[3] = (byte)length;
        }

        return result;
    }

    /// <summary>Real messages captured from an in-memory handshake (with a CertificateRequest and a NewSessionTicket).</summary>
    private sealed record Corpus((TlsHandshakeType Type, byte[] Message)[] Messages, byte[] ServerHello, int FlightStart)
    {
        public static Corpus Capture()
        {
            using TlsClientHandshake client = new(TlsTestPump.ClientOptions());
            using TlsServerHandshake server = new(TlsTestPump.ServerOptions());
            TlsTestPump pump = new();
            pump.Run(client, server);
            List<(TlsHandshakeType, byte[])> messages = [];
            byte[] clientHello = pump.ClientData[0].Data;
            messages.Add((TlsHandshakeType.ClientHello, clientHello));
            byte[] serverHello = pump.ServerData[0].Data;
            messages.Add((TlsHandshakeType.ServerHello, serverHello));
            int flightStart = messages.Count;
            messages.AddRange(Split(pump.ServerData[1].Data));
            messages.Add((TlsHandshakeType.CertificateRequest, new CertificateRequestMessage { SignatureAlgorithms = TlsSignatures.Supported }.Encode()));
            messages.Add((TlsHandshakeType.NewSessionTicket, Rfc8448Vectors.NewSessionTicket));
            return new Corpus([.. messages], serverHello, flightStart);
        }

        private static IEnumerable<(TlsHandshakeType, byte[])> Split(byte[] flight)
        {
            for (int offset = 0; offset < flight.Length;)
            {
                int length = 4 + (flight[offset + 1] << 16 | flight[offset + 2] << 8 | flight[offset + 3]);
                yield return ((TlsHandshakeType)flight[offset], flight.AsSpan(offset, length).ToArray());
                offset += length;
            }
        }
    }
}
