using AspNetQuicSteer.Quic.Tests.Packets;
using AspNetQuicSteer.Quic.Wire;
using AspNetQuicSteer.Steering.ConnectionIds;
using CsCheck;

namespace AspNetQuicSteer.Steering.Tests.ConnectionIds;

public sealed class SteeringConnectionIdGeneratorTests
{
    private static readonly byte[] Key = Convert.FromHexString("8f95f09245765f80256934e50c66207f");

    /// <summary>One configuration per QUIC-LB mode: plaintext (§5.4), single pass (§5.4.1), four pass (§5.4.2), odd and even.</summary>
    public static TheoryData<string> Modes => ["plaintext", "single-pass", "four-pass-odd", "four-pass-even"];

    [Theory]
    [MemberData(nameof(Modes))]
    public void Generated_ids_carry_the_generation_and_route_to_the_server_id_under_plain_quic_lb(string mode)
    {
        using var generator = new SteeringConnectionIdGenerator(Options(mode, generation: 0x5A));
        QuicLbConfiguration config = generator.Configuration;

        // Cross-host LB compatibility: a load balancer that only knows the configuration (its own codec) extracts
        // our server ID from every CID (§5.5); the generation is part of its "nonce".
        using var loadBalancer = new QuicLbCodec(config);
        byte[] serverId = new byte[config.ServerIdLength];
        for (int i = 0; i < 50; i++)
        {
            ConnectionId cid = generator.Generate();
            Assert.Equal(generator.ConnectionIdLength, cid.Length);
            Assert.True(generator.Validate(cid.Span));
            Assert.True(loadBalancer.TryDecode(cid.Span, serverId));
            Assert.Equal(ServerIdFor(config), serverId);
            Assert.True(generator.TryReadGeneration(cid.Span, out GenerationId generation));
            Assert.Equal(new GenerationId(0x5A), generation);
        }
    }

    [Fact]
    public void Only_plaintext_layouts_expose_a_kernel_readable_field()
    {
        using var plaintext = new SteeringConnectionIdGenerator(Options("plaintext"));
        Assert.Equal(new SteeringField(Offset: 1 + 4, MaskOffset: 1 + 4 + 1), plaintext.KernelReadableField);

        foreach (string mode in new[] { "single-pass", "four-pass-odd", "four-pass-even" })
        {
            using var encrypted = new SteeringConnectionIdGenerator(Options(mode));
            Assert.Null(encrypted.KernelReadableField);
            Assert.Equal(1 + encrypted.Configuration.ServerIdLength, encrypted.PlaintextField.Offset);
        }
    }

    /// <summary>The masked field reads back through <see cref="SteeringField"/> at the fixed offset, yet the octet on the wire varies.</summary>
    [Fact]
    public void In_plaintext_the_kernel_field_reads_the_generation_and_the_masked_octet_is_not_constant()
    {
        using var generator = new SteeringConnectionIdGenerator(Options("plaintext", generation: 7));
        SteeringField field = generator.KernelReadableField!.Value;
        var wireValues = new HashSet<byte>();
        for (int i = 0; i < 100; i++)
        {
            ConnectionId cid = generator.Generate();
            Assert.True(field.TryRead(cid.Span, out GenerationId generation));
            Assert.Equal(7, generation.Value);
            wireValues.Add(cid.Span[field.Offset]);
        }

        Assert.True(wireValues.Count > 20, $"the masked generation octet took only {wireValues.Count} values in 100 CIDs");
    }

    [Fact]
    public void Unmasked_the_generation_is_the_plain_octet_after_the_server_id()
    {
        using var generator = new SteeringConnectionIdGenerator(Options("plaintext", generation: 0x42) with { MaskGeneration = false });
        Assert.Equal(new SteeringField(5), generator.KernelReadableField);
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal(0x42, generator.Generate().Span[5]);
        }
    }

    /// <summary>Any valid option set: the CID validates, decodes to the server ID under the configuration, and yields the generation.</summary>
    [Fact]
    public void Every_option_shape_round_trips() =>
        AnyOptions.Sample(options =>
        {
            using var generator = new SteeringConnectionIdGenerator(options);
            ConnectionId cid = generator.Generate();
            Assert.Equal(options.EffectiveConnectionIdLength, cid.Length);
            Assert.True(generator.Validate(cid.Span));
            Assert.Equal(options.QuicLb.ConfigRotation, cid.Span[0] >> 5); // §3.1
            Assert.True(generator.TryReadGeneration(cid.Span, out GenerationId generation));
            Assert.Equal(options.Generation, generation);
            byte[] serverId = new byte[options.QuicLb.ServerIdLength];
            Assert.True(generator.TryReadServerId(cid.Span, serverId));
            Assert.Equal(options.ServerId.ToArray(), serverId);
            Assert.Equal(options.QuicLb.Mode == QuicLbMode.Plaintext, generator.KernelReadableField is not null);
        }, iter: 200);

    [Fact]
    public void Ids_are_distinct()
    {
        using var generator = new SteeringConnectionIdGenerator(Options("four-pass-odd"));
        var seen = new HashSet<ConnectionId>();
        for (int i = 0; i < 5_000; i++)
        {
            Assert.True(seen.Add(generator.Generate()));
        }
    }

    /// <summary>One generator (one AES transform pair behind a lock) shared by many threads stays correct.</summary>
    [Theory]
    [InlineData("single-pass")]
    [InlineData("four-pass-odd")]
    public void A_shared_generator_is_thread_safe(string mode)
    {
        using var generator = new SteeringConnectionIdGenerator(Options(mode, generation: 0x33));
        int failures = 0;
        Parallel.For(0, 4_000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ =>
        {
            ConnectionId cid = generator.Generate();
            if (!generator.TryReadGeneration(cid.Span, out GenerationId generation) || generation.Value != 0x33)
            {
                Interlocked.Increment(ref failures);
            }
        });
        Assert.Equal(0, failures);
    }

    /// <summary>Validate: our length, our config rotation bits (never 0b111, §3.1) and the self-encoded length (§3.3).</summary>
    [Fact]
    public void Validate_checks_length_config_rotation_and_self_encoded_length()
    {
        using var generator = new SteeringConnectionIdGenerator(Options("four-pass-odd"));
        byte[] cid = generator.Generate().Span.ToArray();
        Assert.True(generator.Validate(cid));
        Assert.False(generator.Validate(cid.AsSpan(0, cid.Length - 1)));
        Assert.False(generator.Validate([.. cid, 0]));

        byte[] otherRotation = [.. cid];
        otherRotation[0] ^= 0x20;
        Assert.False(generator.Validate(otherRotation));
        Assert.False(generator.TryReadGeneration(otherRotation, out _));

        byte[] unroutable = [.. cid];
        unroutable[0] |= 0xE0;
        Assert.False(generator.Validate(unroutable));

        byte[] wrongLength = [.. cid];
        wrongLength[0] ^= 0x01;
        Assert.False(generator.Validate(wrongLength));
    }

    [Fact]
    public void Reading_the_generation_from_a_longer_span_uses_the_cid_prefix()
    {
        using var generator = new SteeringConnectionIdGenerator(Options("single-pass", generation: 3));
        byte[] packetTail = [.. generator.Generate().Span, 0xDE, 0xAD];
        Assert.True(generator.TryReadGeneration(packetTail, out GenerationId generation));
        Assert.Equal(3, generation.Value);
        Assert.False(generator.TryReadGeneration(packetTail.AsSpan(0, generator.ConnectionIdLength - 1), out _));
    }

    [Fact]
    public void Reading_random_or_mutated_bytes_never_throws()
    {
        using var plaintext = new SteeringConnectionIdGenerator(Options("plaintext"));
        using var fourPass = new SteeringConnectionIdGenerator(Options("four-pass-odd"));
        using var singlePass = new SteeringConnectionIdGenerator(Options("single-pass"));
        SteeringConnectionIdGenerator[] generators = [plaintext, fourPass, singlePass];
        byte[][] seeds = [.. generators.Select(g => g.Generate().Span.ToArray())];

        void Check(byte[] bytes)
        {
            foreach (SteeringConnectionIdGenerator generator in generators)
            {
                bool valid = generator.Validate(bytes);
                bool read = generator.TryReadGeneration(bytes, out _);
                Assert.True(!valid || read);
                generator.TryReadServerId(bytes, new byte[generator.Configuration.ServerIdLength]);
            }
        }

        Gen.Byte.Array[0, 24].Sample(Check, iter: 1_000);
        Mutations.Of(seeds).Sample(Check, iter: 2_000);
    }

    /// <summary>Per-CID generation allocates nothing: stack buffers, reused AES transforms, a struct ConnectionId.</summary>
    [Theory]
    [MemberData(nameof(Modes))]
    public void Generate_and_read_back_do_not_allocate(string mode)
    {
        using var generator = new SteeringConnectionIdGenerator(Options(mode) with { ConnectionIdLength = 20 });
        for (int i = 0; i < 50; i++)
        {
            generator.Generate();
        }

        ConnectionId last = default;
        int generations = 0;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1_000; i++)
        {
            last = generator.Generate();
            generations += generator.TryReadGeneration(last.Span, out GenerationId generation) ? generation.Value : -1000;
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.Equal(1_000 * 9, generations);
        Assert.Equal(20, last.Length);
    }

    [Fact]
    public void Options_are_validated_with_clear_messages()
    {
        SteeringConnectionIdOptions good = Options("plaintext");
        new SteeringConnectionIdGenerator(good).Dispose();

        ArgumentException e = Assert.Throws<ArgumentException>(() => new SteeringConnectionIdGenerator(good with { ServerId = new byte[3] }));
        Assert.Equal("ServerId", e.ParamName);
        Assert.Contains("4 octets", e.Message, StringComparison.Ordinal);

        e = Assert.Throws<ArgumentException>(() => new SteeringConnectionIdGenerator(good with { ConnectionIdLength = 21 }));
        Assert.Equal("ConnectionIdLength", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => new SteeringConnectionIdGenerator(good with { ConnectionIdLength = 9 }));
        Assert.Contains("cannot hold", e.Message, StringComparison.Ordinal);

        // 1 + 3 + 4 = 8 octets is a valid QUIC-LB CID, but a 4-octet nonce leaves no room for the generation (§9.6).
        var tight = new QuicLbConfiguration(0, 3, 4);
        e = Assert.Throws<ArgumentException>(() => new SteeringConnectionIdGenerator(good with { QuicLb = tight, ServerId = new byte[3] }));
        Assert.Equal("QuicLb", e.ParamName);
        Assert.Contains("§9.6", e.Message, StringComparison.Ordinal);

        var small = new QuicLbConfiguration(0, 1, 5);
        e = Assert.Throws<ArgumentException>(() => new SteeringConnectionIdGenerator(good with { QuicLb = small, ServerId = new byte[1] }));
        Assert.Contains("8..20", e.Message, StringComparison.Ordinal);
        new SteeringConnectionIdGenerator(good with { QuicLb = small, ServerId = new byte[1], ConnectionIdLength = 8 }).Dispose();
    }

    private static readonly Gen<SteeringConnectionIdOptions> AnyOptions =
        from configRotation in Gen.Int[0, 6]
        from serverIdLength in Gen.Int[1, 14]
        from nonceLength in Gen.Int[5, 19 - serverIdLength]
        from keyed in Gen.Bool
        from selfEncode in Gen.Bool
        from masked in Gen.Bool
        from minimum in Gen.Const(Math.Max(8, 1 + serverIdLength + nonceLength))
        from length in Gen.Int[minimum, 20]
        from serverId in Gen.Byte.Array[serverIdLength]
        from generation in Gen.Byte
        select new SteeringConnectionIdOptions
        {
            QuicLb = new QuicLbConfiguration(configRotation, serverIdLength, nonceLength, keyed ? Key : [], selfEncode),
            ServerId = serverId,
            Generation = new GenerationId(generation),
            MaskGeneration = masked,
            ConnectionIdLength = length,
        };

    private static SteeringConnectionIdOptions Options(string mode, byte generation = 9)
    {
        QuicLbConfiguration config = mode switch
        {
            "plaintext" => new QuicLbConfiguration(1, 4, 8, selfEncodeLength: true),
            "single-pass" => new QuicLbConfiguration(2, 6, 10, Key, selfEncodeLength: true),
            "four-pass-odd" => new QuicLbConfiguration(3, 4, 7, Key, selfEncodeLength: true),
            "four-pass-even" => new QuicLbConfiguration(4, 2, 10, Key),
            _ => throw new ArgumentOutOfRangeException(nameof(mode)),
        };

        return new SteeringConnectionIdOptions
        {
            QuicLb = config,
            ServerId = ServerIdFor(config),
            Generation = new GenerationId(generation),
        };
    }

    private static byte[] ServerIdFor(QuicLbConfiguration config) => [.. Enumerable.Range(0xA0, config.ServerIdLength).Select(i => (byte)i)];
}
