using AspNetQuicSteer.Quic.Tests.Packets;
using AspNetQuicSteer.Steering.ConnectionIds;
using CsCheck;

namespace AspNetQuicSteer.Steering.Tests.ConnectionIds;

/// <summary>
/// Katran CID formats against the examples in Katran's own tests (katran/lib/testing/fixtures/KatranBaseTestFixtures.h
/// with the IDs of KatranTestProvision.cpp addQuicMappings) and mvfst's DefaultConnectionIdAlgoTest.
/// </summary>
public sealed class KatranConnectionIdLayoutTests
{
    /// <summary>Katran fixture DCIDs and the server IDs <c>parse_quic</c> extracts from them.</summary>
    public static TheoryData<string, int, uint> KatranFixtures => new()
    {
        { "4100830405060700", 1, 1026 },     // "QUIC: short header w/ connection id" (mapped id 1026)
        { "4111000000000000", 1, 1092 },     // "QUIC: short header w/ connection id 1092 but non-existing mapping"
        { "8003040205060700", 2, 0x030402 }, // "... w/ connection id. CIDv2": tw job 3 << 16 | 1026
        { "8003044400000000", 2, 197700 },   // "... w/ connection id 197700 but non-existing mapping. CIDv2"
    };

    [Theory]
    [MemberData(nameof(KatranFixtures))]
    public void Katran_fixture_connection_ids_yield_katrans_server_ids(string cid, int version, uint hostId)
    {
        Assert.True(KatranConnectionIdLayout.TryReadServerId(Convert.FromHexString(cid), out KatranCidVersion readVersion, out uint readHostId));
        Assert.Equal((KatranCidVersion)version, readVersion);
        Assert.Equal(hostId, readHostId);
    }

    /// <summary>mvfst DefaultConnectionIdAlgoTest decodeV1/decodeV2/decodeV3.</summary>
    [Fact]
    public void Mvfst_decode_examples()
    {
        // "01" host "1111111111111111" worker "10101010" process "1" unused "00000"
        Assert.True(KatranConnectionIdLayout.TryRead([0x7F, 0xFF, 0xEA, 0xA0], out KatranConnectionIdFields v1));
        Assert.Equal(new KatranConnectionIdFields(KatranCidVersion.V1, 0xFFFF, 0xAA, 1), v1);

        Assert.True(KatranConnectionIdLayout.TryRead([0x80, 0xAA, 0xBB, 0xCC, 0xFF, 0x80], out KatranConnectionIdFields v2));
        Assert.Equal(new KatranConnectionIdFields(KatranCidVersion.V2, 0xAABBCC, 0xFF, 1), v2);

        Assert.True(KatranConnectionIdLayout.TryRead([0xC0, 0xAA, 0xBB, 0xCC, 0xDD, 0xFF, 0x80], out KatranConnectionIdFields v3));
        Assert.Equal(new KatranConnectionIdFields(KatranCidVersion.V3, 0xAABBCCDD, 0xFF, 1), v3);

        // mvfst canParse: version 0 never; each version needs its 4/6/7 octets.
        Assert.False(KatranConnectionIdLayout.TryRead([0x00, 0x01, 0x02, 0x03], out _));
        Assert.False(KatranConnectionIdLayout.TryRead([0x40, 0x01, 0x02], out _));
        Assert.False(KatranConnectionIdLayout.TryRead([0x80, 0x01, 0x02, 0x03, 0x04], out _));
        Assert.False(KatranConnectionIdLayout.TryRead([0xC0, 0x01, 0x02, 0x03, 0x04, 0x05], out _));
    }

    [Fact]
    public void Katran_does_not_route_short_version_0_zero_or_negative_ids()
    {
        Assert.False(KatranConnectionIdLayout.TryReadServerId([0x41, 0x00, 0x83, 0x04, 0x05, 0x06, 0x07], out _, out _)); // < QUIC_MIN_CONNID_LEN
        Assert.False(KatranConnectionIdLayout.TryReadServerId([0x01, 0x00, 0x83, 0x04, 0x05, 0x06, 0x07, 0x00], out _, out _)); // version 0
        Assert.False(KatranConnectionIdLayout.TryReadServerId([0x80, 0, 0, 0, 0x05, 0x06, 0x07, 0x00], out _, out _)); // server_id 0
        Assert.False(KatranConnectionIdLayout.TryReadServerId([0xC0, 0x80, 0, 0, 1, 0x06, 0x07, 0x00], out _, out _)); // int server_id < 0
        Assert.True(KatranConnectionIdLayout.TryReadServerId([0xC0, 0x7F, 0xFF, 0xFF, 0xFF, 0x06, 0x07, 0x00], out _, out uint max));
        Assert.Equal(0x7FFFFFFFu, max);
    }

    [Fact]
    public void Write_then_read_round_trips_and_keeps_the_random_bits() =>
        Gen.Select(Gen.Int[1, 3], Gen.UInt, Gen.Byte, Gen.Int[0, 1], Gen.Byte.Array[8, 20]).Sample((v, rawHost, worker, process, cid) =>
        {
            var version = (KatranCidVersion)v;
            uint host = 1 + (rawHost % KatranConnectionIdLayout.MaxHostId(version));
            var fields = new KatranConnectionIdFields(version, host, worker, (byte)process);
            byte[] before = [.. cid];
            KatranConnectionIdLayout.Write(cid, fields);

            Assert.True(KatranConnectionIdLayout.TryRead(cid, out KatranConnectionIdFields read));
            Assert.Equal(fields, read);
            Assert.True(KatranConnectionIdLayout.TryReadServerId(cid, out KatranCidVersion readVersion, out uint readHost));
            Assert.Equal(version, readVersion);
            Assert.Equal(host, readHost);

            // Bits outside the fields are untouched: V1 ends at bit 26, V2/V3 at the process bit of octet 5/6.
            int fieldOctets = KatranConnectionIdLayout.MinLength(version);
            Assert.Equal(before[fieldOctets..], cid[fieldOctets..]);
            byte freeMask = version == KatranCidVersion.V1 ? (byte)0x1F : (byte)0x7F;
            Assert.Equal(before[fieldOctets - 1] & freeMask, cid[fieldOctets - 1] & freeMask);
            if (version != KatranCidVersion.V1)
            {
                Assert.Equal(before[0] & 0x3F, cid[0] & 0x3F);
            }
        }, iter: 500);

    [Fact]
    public void The_worker_octet_can_carry_a_generation_in_v2_and_v3()
    {
        Assert.Null(KatranConnectionIdLayout.WorkerIdField(KatranCidVersion.V1));
        foreach (KatranCidVersion version in new[] { KatranCidVersion.V2, KatranCidVersion.V3 })
        {
            SteeringField field = KatranConnectionIdLayout.WorkerIdField(version)!.Value;
            byte[] cid = new byte[8];
            KatranConnectionIdLayout.Fill(cid, new KatranConnectionIdFields(version, 1026, WorkerId: 0x17));
            Assert.True(field.TryRead(cid, out GenerationId generation));
            Assert.Equal(0x17, generation.Value);
        }
    }

    [Fact]
    public void Write_rejects_what_katran_would_not_route()
    {
        byte[] cid = new byte[8];
        Assert.Throws<ArgumentException>(() => KatranConnectionIdLayout.Write(new byte[7], new(KatranCidVersion.V2, 1)));
        Assert.Throws<ArgumentException>(() => KatranConnectionIdLayout.Write(new byte[21], new(KatranCidVersion.V2, 1)));
        Assert.Throws<ArgumentException>(() => KatranConnectionIdLayout.Write(cid, new(KatranCidVersion.V1, 0)));
        Assert.Throws<ArgumentException>(() => KatranConnectionIdLayout.Write(cid, new(KatranCidVersion.V1, 0x1_0000)));
        Assert.Throws<ArgumentException>(() => KatranConnectionIdLayout.Write(cid, new(KatranCidVersion.V2, 0xFF_FFFF)));
        Assert.Throws<ArgumentException>(() => KatranConnectionIdLayout.Write(cid, new(KatranCidVersion.V3, 0x8000_0000)));
        Assert.Throws<ArgumentException>(() => KatranConnectionIdLayout.Write(cid, new(KatranCidVersion.V3, 1, ProcessId: 2)));
        Assert.Throws<ArgumentOutOfRangeException>(() => KatranConnectionIdLayout.Write(cid, new((KatranCidVersion)0, 1)));
    }

    [Fact]
    public void Reading_random_or_mutated_bytes_never_throws()
    {
        static void Check(byte[] bytes)
        {
            KatranConnectionIdLayout.TryRead(bytes, out _);
            KatranConnectionIdLayout.TryReadServerId(bytes, out _, out _);
        }

        Gen.Byte.Array[0, 24].Sample(Check, iter: 1_000);
        Mutations.Of(Convert.FromHexString("4100830405060700"), Convert.FromHexString("8003040205060700"), Convert.FromHexString("c0aabbccddff8000"))
            .Sample(Check, iter: 1_000);
    }
}
