using AspNetQuicSteer.Steering.Kernel;
using CsCheck;

namespace AspNetQuicSteer.Steering.Tests.Kernel;

/// <summary>The steering program run by <see cref="ClassicBpfInterpreter"/> against the managed router (<see cref="ExpectedSteering"/>).</summary>
public sealed class ReuseportSteeringProgramTests
{
    private static readonly GenerationId G1 = new(0x11), G2 = new(0x22), G3 = new(0x33);

    // {g1 → 0, g2 → 1, g3 (active) → 2}: three generations, one socket each, joined oldest first.
    private static readonly Dictionary<GenerationId, int> ThreeGenerations = new() { [G1] = 0, [G2] = 1, [G3] = 2 };

    public static TheoryData<string, int, int> Fields => new()
    {
        // name, offset, mask offset (-1 = unmasked); CID length 8 throughout.
        { "plain, first CID byte", 0, -1 },
        { "plain, middle", 3, -1 },
        { "plain, last CID byte", 7, -1 },
        { "masked, mask after", 1, 2 },
        { "masked, mask before", 5, 0 },
        { "masked, mask last", 0, 7 },
    };

    [Theory]
    [MemberData(nameof(Fields))]
    public void Every_rule_matches_the_managed_decision(string name, int offset, int maskOffset)
    {
        _ = name;
        const int cidLength = 8;
        var field = new SteeringField(offset, maskOffset);
        var program = ReuseportSteeringProgram.Build(field, cidLength, activeSocketIndex: 2, ThreeGenerations);
        uint Run(byte[] payload) => ClassicBpfInterpreter.Run(program, payload);

        // Long header (RFC 9000 §17.2): Initial-like first byte 0xC3, whatever the CID bytes say → active.
        byte[] longHeader = Datagram(0xC3, cidLength, field, G1);
        Assert.Equal(2u, Run(longHeader));

        // Short header with a live generation → its socket; the active generation's own → active.
        Assert.Equal(0u, Run(Datagram(0x41, cidLength, field, G1)));
        Assert.Equal(1u, Run(Datagram(0x41, cidLength, field, G2)));
        Assert.Equal(2u, Run(Datagram(0x41, cidLength, field, G3)));

        // Unknown generation → active.
        Assert.Equal(2u, Run(Datagram(0x41, cidLength, field, new GenerationId(0x44))));

        // Shorter than the DCID plus the 20 bytes a protected short header carries (RFC 9001 §5.4.2; the router drops
        // these): every length 0..cidLength + 20 → active, never index 0 (the load-fault value).
        byte[] full = Datagram(0x41, cidLength, field, G1);
        for (int length = 0; length < full.Length; length++)
            Assert.Equal(2u, Run(full[..length]));
        Assert.Equal(0u, Run(full)); // 1 + CID + 20 bytes: steerable
    }

    [Fact]
    public void Random_tables_and_datagrams_match_the_managed_decision() =>
        Gen.Select(
            Gen.Int[1, ReuseportSteeringProgram.MaxConnectionIdLength],
            Gen.Int[0, 64],
            Gen.Dictionary(Gen.Byte, Gen.Int[0, 7])[0, 12],
            Gen.Int[0, 7],
            Gen.Byte.Array[0, 48].Array[1, 24]).Sample((cidLength, offsetSeed, table, active, payloads) =>
        {
            int offset = offsetSeed % cidLength;
            int maskOffset = cidLength > 1 && offsetSeed % 3 != 0 ? (offset + 1 + offsetSeed / 3 % (cidLength - 1)) % cidLength : -1;
            var field = new SteeringField(offset, maskOffset);
            var indexes = table.ToDictionary(entry => new GenerationId(entry.Key), entry => entry.Value);
            var program = ReuseportSteeringProgram.Build(field, cidLength, active, indexes);

            var live = indexes.Keys.ToArray();
            for (int i = 0; i < payloads.Length; i++)
            {
                byte[] payload = payloads[i];
                // Bias towards the interesting cases: short headers carrying a live generation.
                if (live.Length > 0 && payload.Length >= 1 + cidLength && i % 2 == 0)
                {
                    payload[0] &= 0x7f;
                    field.Write(payload.AsSpan(1, cidLength), live[i % live.Length]);
                }

                Assert.Equal(
                    ExpectedSteering.SocketIndex(payload, field, cidLength, active, indexes),
                    ClassicBpfInterpreter.Run(program, payload));
            }
        });

    [Fact]
    public void All_256_generations_fit_and_every_value_maps()
    {
        var field = new SteeringField(2, 5);
        var indexes = Enumerable.Range(0, 256).ToDictionary(v => new GenerationId((byte)v), v => 1000 + v);
        var program = ReuseportSteeringProgram.Build(field, 8, activeSocketIndex: 7, indexes);

        // 3 (length guard) + 3 (header form) + 4 (masked load) + 2 per generation + 1 (unknown) — far below BPF_MAXINSNS.
        Assert.Equal(11 + 2 * 256, program.Length);
        ClassicBpfInterpreter.Check(program);
        var rng = new Random(6);
        for (int value = 0; value < 256; value++)
        {
            byte[] payload = new byte[30];
            rng.NextBytes(payload);
            payload[0] = 0x40;
            field.Write(payload.AsSpan(1, 8), new GenerationId((byte)value));
            Assert.Equal((uint)(1000 + value), ClassicBpfInterpreter.Run(program, payload));
        }
    }

    [Fact]
    public void Entries_for_the_active_index_fold_into_the_fall_through()
    {
        var field = new SteeringField(0);
        var withActive = ReuseportSteeringProgram.Build(field, 8, 2, ThreeGenerations);
        var without = ReuseportSteeringProgram.Build(field, 8, 2, new Dictionary<GenerationId, int> { [G1] = 0, [G2] = 1 });
        Assert.Equal(without, withActive);
    }

    [Fact]
    public void Listing_of_the_readme_example()
    {
        // The example in src/AspNetQuicSteer.Steering/Kernel/README.md: 8-byte CIDs, generation byte at CID offset 1
        // masked with CID byte 2, {g1 → 0, g2 → 1, g3 (active) → 2}.
        var program = ReuseportSteeringProgram.Build(new SteeringField(1, 2), 8, 2, ThreeGenerations);
        Assert.Equal(
            """
               0: ld len
               1: jgt #28, 3, 2
               2: ret #2
               3: ldb [0]
               4: jset #0x80, 5, 6
               5: ret #2
               6: ldb [3]
               7: tax
               8: ldb [2]
               9: xor x
              10: jeq #0x11, 11, 12
              11: ret #0
              12: jeq #0x22, 13, 14
              13: ret #1
              14: ret #2

            """.Replace("\r\n", "\n", StringComparison.Ordinal),
            ClassicBpfListing.Format(program));
    }

    [Fact]
    public void Invalid_layouts_and_indexes_are_rejected()
    {
        var table = new Dictionary<GenerationId, int> { [G1] = 0 };
        Assert.Throws<ArgumentOutOfRangeException>(() => ReuseportSteeringProgram.Build(new SteeringField(0), 0, 0, table));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReuseportSteeringProgram.Build(new SteeringField(0), 21, 0, table));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReuseportSteeringProgram.Build(new SteeringField(8), 8, 0, table));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReuseportSteeringProgram.Build(new SteeringField(-1), 8, 0, table));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReuseportSteeringProgram.Build(new SteeringField(1, 8), 8, 0, table));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReuseportSteeringProgram.Build(new SteeringField(1, 1), 8, 0, table));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReuseportSteeringProgram.Build(new SteeringField(1), 8, -1, table));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            ReuseportSteeringProgram.Build(new SteeringField(1), 8, 0, new Dictionary<GenerationId, int> { [G1] = -2 }));
    }

    [Fact]
    public void Join_order_rebuild_follows_the_last_socket_into_the_closed_slot()
    {
        var field = new SteeringField(1, 2);
        var order = new ReuseportJoinOrder<GenerationId>();
        Assert.Equal(0, order.Join(G1));
        Assert.Equal(1, order.Join(G2));
        Assert.Equal(2, order.Join(G3));
        Assert.Equal(
            ReuseportSteeringProgram.Build(field, 8, 2, ThreeGenerations),
            ReuseportSteeringProgram.BuildForJoinOrder(field, 8, G3, order.Members));

        // socket(7): closing g1's socket moves the last socket (g3's) into slot 0.
        Assert.Equal(2, order.Leave(0));
        Assert.Equal([G3, G2], order.Members);
        var rebuilt = ReuseportSteeringProgram.BuildForJoinOrder(field, 8, G3, order.Members);
        Assert.Equal(ReuseportSteeringProgram.Build(field, 8, 0, new Dictionary<GenerationId, int> { [G2] = 1 }), rebuilt);
        Assert.Equal(1u, ClassicBpfInterpreter.Run(rebuilt, Datagram(0x40, 8, field, G2)));
        Assert.Equal(0u, ClassicBpfInterpreter.Run(rebuilt, Datagram(0x40, 8, field, G1))); // retired → active
        Assert.Equal(0u, ClassicBpfInterpreter.Run(rebuilt, Datagram(0xC0, 8, field, G2))); // long → active

        // A generation with several sockets is steered to its first one.
        order.Join(G2);
        Assert.Equal(1, ReuseportSteeringProgram.SocketIndexesFromJoinOrder(order.Members)[G2]);

        // Closing the last socket moves nothing.
        Assert.Equal(2, order.Leave(2));
        Assert.Equal([G3, G2], order.Members);

        Assert.Throws<ArgumentException>(() => ReuseportSteeringProgram.BuildForJoinOrder(field, 8, G1, order.Members));
    }

    /// <summary>A datagram: first byte, a random CID carrying <paramref name="generation"/>, 20 random bytes after.</summary>
    internal static byte[] Datagram(byte firstByte, int cidLength, SteeringField field, GenerationId generation, int trailing = 20)
    {
        byte[] datagram = new byte[1 + cidLength + trailing];
        Random.Shared.NextBytes(datagram);
        datagram[0] = firstByte;
        field.Write(datagram.AsSpan(1, cidLength), generation);
        return datagram;
    }
}
