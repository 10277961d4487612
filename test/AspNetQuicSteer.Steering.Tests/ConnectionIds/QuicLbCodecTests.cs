using System.Security.Cryptography;
using AspNetQuicSteer.Quic.Tests.Packets;
using AspNetQuicSteer.Steering.ConnectionIds;
using CsCheck;

namespace AspNetQuicSteer.Steering.Tests.ConnectionIds;

/// <summary>
/// QUIC-LB CID encoding against draft-ietf-quic-load-balancers-21 (Appendix B test vectors, unchanged since -19;
/// §5.4.2.4 encryption example as corrected in -20), plus round-trip and fuzz properties.
/// </summary>
public sealed class QuicLbCodecTests
{
    private const string VectorKey = "8f95f09245765f80256934e50c66207f";

    /// <summary>
    /// Appendix B ("In all cases, the server is configured to encode the CID length"): cr_bits, sid, nonce, key
    /// (empty = plaintext), cid. Two rows are printed inconsistently in the draft and are given here as the
    /// algorithm defines them:
    /// <list type="bullet">
    /// <item>B.1 row 2 prints nonce "3487d970b" and cid "20a350d28b4203487d970b": the generator printed the
    /// config-rotation bits (0x20) and the self-encoded length (0xa = 10) as separate unpadded hex numbers and the
    /// nonce as an integer without its leading zero. Byte-wise: nonce 03487d970b, cid 2a|350d28b420|03487d970b. (Row 1,
    /// "0"+"7"+…, is printed the same way and is byte-exact.)</item>
    /// <item>B.2 row 4 is labelled cr_bits 3 but its first octet 0x12 encodes config 0 (length 18): the row was
    /// regenerated in -19 without the rotation bits. The 18 ciphertext octets do not depend on the first octet
    /// (expand() takes only the plaintext length and pass, §5.4.2.2), so config 3 gives 0x72 + the same octets;
    /// <see cref="Appendix_B_2_last_row_as_printed_decodes_under_config_0"/> checks the printed CID too.</item>
    /// </list>
    /// </summary>
    public static TheoryData<int, string, string, string, string> AppendixB => new()
    {
        // B.1 Unencrypted CIDs
        { 0, "c4605e", "4504cc4f", "", "07c4605e4504cc4f" },
        { 1, "350d28b420", "03487d970b", "", "2a350d28b42003487d970b" },

        // B.2 Encrypted CIDs: four-pass (odd length 7), four-pass with server ID longer than the nonce (fourth
        // decryption pass, odd length 15), single-pass (16), four-pass (even length 18).
        { 0, "ed793a", "ee080dbf", VectorKey, "0720b1d07b359d3c" },
        { 1, "ed793a51d49b8f5fab65", "ee080dbf48", VectorKey, "2fcc381bc74cb4fbad2823a3d1f8fed2" },
        { 2, "ed793a51d49b8f5f", "ee080dbf48c0d1e5", VectorKey, "504dd2d05a7b0de9b2b9907afb5ecf8cc3" },
        { 3, "ed793a51d49b8f5fab", "ee080dbf48c0d1e55d", VectorKey, "725779c9cc86beb3a3a4a3ca96fce4bfe0cdbc" },
    };

    [Theory]
    [MemberData(nameof(AppendixB))]
    public void Appendix_B_test_vectors_encode(int configRotation, string sid, string nonce, string key, string cid)
    {
        using var codec = Codec(configRotation, sid, nonce, key);
        byte[] encoded = new byte[cid.Length / 2];
        codec.Encode(Convert.FromHexString(sid), Convert.FromHexString(nonce), encoded);
        Assert.Equal(cid, Convert.ToHexStringLower(encoded));
    }

    [Theory]
    [MemberData(nameof(AppendixB))]
    public void Appendix_B_test_vectors_decode(int configRotation, string sid, string nonce, string key, string cid)
    {
        using var codec = Codec(configRotation, sid, nonce, key);
        byte[] serverId = new byte[sid.Length / 2];
        byte[] recoveredNonce = new byte[nonce.Length / 2];

        // §5.5: the load balancer needs only the server ID (three passes when the nonce is at least as long, §5.5.2).
        Assert.True(codec.TryDecode(Convert.FromHexString(cid), serverId));
        Assert.Equal(sid, Convert.ToHexStringLower(serverId));

        Assert.True(codec.TryDecode(Convert.FromHexString(cid), serverId, recoveredNonce));
        Assert.Equal(sid, Convert.ToHexStringLower(serverId));
        Assert.Equal(nonce, Convert.ToHexStringLower(recoveredNonce));
    }

    [Fact]
    public void Appendix_B_2_last_row_as_printed_decodes_under_config_0()
    {
        using var codec = Codec(0, "ed793a51d49b8f5fab", "ee080dbf48c0d1e55d", VectorKey);
        byte[] serverId = new byte[9];
        byte[] nonce = new byte[9];
        Assert.True(codec.TryDecode(Convert.FromHexString("125779c9cc86beb3a3a4a3ca96fce4bfe0cdbc"), serverId, nonce));
        Assert.Equal("ed793a51d49b8f5fab", Convert.ToHexStringLower(serverId));
        Assert.Equal("ee080dbf48c0d1e55d", Convert.ToHexStringLower(nonce));
    }

    /// <summary>§5.4.2.4 Encryption Example (as fixed in -20; -19 printed a different final CID).</summary>
    [Fact]
    public void Section_5_4_2_4_encryption_example()
    {
        using var codec = Codec(0, "31441a", "9c69c275", "fdf726a9893ec05c0632d3956680baf0");
        byte[] cid = new byte[8];
        codec.Encode(Convert.FromHexString("31441a"), Convert.FromHexString("9c69c275"), cid);
        Assert.Equal("0767947d29be054a", Convert.ToHexStringLower(cid));

        byte[] serverId = new byte[3];
        byte[] nonce = new byte[4];
        Assert.True(codec.TryDecode(cid, serverId, nonce));
        Assert.Equal("31441a", Convert.ToHexStringLower(serverId));
        Assert.Equal("9c69c275", Convert.ToHexStringLower(nonce));
    }

    /// <summary>§5.4.2.2: expand(0x06, 0x02, 0xaaba3c); §5.4.2.4 step 3: AES of expand(7, 1, left_0).</summary>
    [Fact]
    public void Section_5_4_2_2_expand_and_the_first_pass_of_the_example()
    {
        byte[] block = new byte[16];
        QuicLbCodec.Expand(6, 2, Convert.FromHexString("aaba3c"), block);
        Assert.Equal("aaba3c00000000000000000000000602", Convert.ToHexStringLower(block));

        QuicLbCodec.Expand(7, 1, Convert.FromHexString("31441a90"), block);
        Assert.Equal("31441a90000000000000000000000701", Convert.ToHexStringLower(block));
        using var aes = Aes.Create();
        aes.Key = Convert.FromHexString("fdf726a9893ec05c0632d3956680baf0");
        Assert.Equal("a255dd8cdacf01948d3a848c3c7fee23", Convert.ToHexStringLower(aes.EncryptEcb(block, PaddingMode.None)));
    }

    [Fact]
    public void Modes_follow_the_key_and_the_plaintext_length()
    {
        Assert.Equal(QuicLbMode.Plaintext, new QuicLbConfiguration(0, 8, 8).Mode);
        Assert.Equal(QuicLbMode.SinglePass, new QuicLbConfiguration(0, 8, 8, Convert.FromHexString(VectorKey)).Mode); // §5.4.1
        Assert.Equal(QuicLbMode.FourPass, new QuicLbConfiguration(0, 8, 9, Convert.FromHexString(VectorKey)).Mode);   // §5.4.2
    }

    /// <summary>§3.3: without self-encoding, the low five bits are random; the rotation bits are always the config's (§3.1).</summary>
    [Fact]
    public void Without_length_self_encoding_the_first_octet_low_bits_are_random()
    {
        using var codec = new QuicLbCodec(new QuicLbConfiguration(5, 3, 5));
        var seen = new HashSet<int>();
        byte[] cid = new byte[9];
        for (int i = 0; i < 200; i++)
        {
            codec.Encode([1, 2, 3], [4, 5, 6, 7, 8], cid);
            Assert.Equal(5, cid[0] >> 5);
            seen.Add(cid[0] & 0x1F);
        }

        Assert.True(seen.Count > 8, $"only {seen.Count} distinct low-bit patterns in 200 CIDs");
    }

    /// <summary>§5.4: servers may append bytes; the codec leaves them alone and self-encodes the full length (§3.3).</summary>
    [Fact]
    public void Appended_server_bytes_are_kept_and_counted_in_the_self_encoded_length()
    {
        using var codec = new QuicLbCodec(new QuicLbConfiguration(1, 3, 4, Convert.FromHexString(VectorKey), selfEncodeLength: true));
        byte[] cid = new byte[12];
        cid[8] = 0xAA;
        cid[11] = 0xBB;
        codec.Encode([1, 2, 3], [4, 5, 6, 7], cid);
        Assert.Equal(0x20 | 11, cid[0]);
        Assert.Equal(0xAA, cid[8]);
        Assert.Equal(0xBB, cid[11]);
        byte[] serverId = new byte[3];
        Assert.True(codec.TryDecode(cid, serverId));
        Assert.Equal([1, 2, 3], serverId);
    }

    /// <summary>§4.1: other configs' codepoints, 0b111, too-short CIDs and impossible self-encoded lengths are unroutable.</summary>
    [Fact]
    public void Unroutable_connection_ids_are_not_decoded()
    {
        using var codec = new QuicLbCodec(new QuicLbConfiguration(2, 3, 4, Convert.FromHexString(VectorKey), selfEncodeLength: true));
        byte[] cid = new byte[8];
        codec.Encode([9, 9, 9], [1, 2, 3, 4], cid);
        byte[] serverId = new byte[3];
        Assert.True(codec.TryDecode(cid, serverId));

        byte[] otherConfig = [.. cid];
        otherConfig[0] = (byte)((3 << 5) | (cid[0] & 0x1F));
        Assert.False(codec.TryDecode(otherConfig, serverId));

        byte[] unroutable = [.. cid];
        unroutable[0] = (byte)(0b111_00000 | (cid[0] & 0x1F));
        Assert.False(codec.TryDecode(unroutable, serverId));

        Assert.False(codec.TryDecode(cid.AsSpan(0, 7), serverId));
        Assert.False(codec.TryDecode([], serverId));

        byte[] shortLength = [.. cid];
        shortLength[0] = (byte)(0x40 | 5); // says 6 octets; the configuration needs 8
        Assert.False(codec.TryDecode(shortLength, serverId));

        byte[] longLength = [.. cid];
        longLength[0] = (byte)(0x40 | 12); // says 13 octets; only 8 given
        Assert.False(codec.TryDecode(longLength, serverId));
    }

    [Fact]
    public void Wrong_buffer_lengths_are_caller_bugs()
    {
        using var codec = new QuicLbCodec(new QuicLbConfiguration(0, 3, 4));
        Assert.Throws<ArgumentException>(() => codec.Encode([1, 2], [1, 2, 3, 4], new byte[8]));
        Assert.Throws<ArgumentException>(() => codec.Encode([1, 2, 3], [1, 2, 3], new byte[8]));
        Assert.Throws<ArgumentException>(() => codec.Encode([1, 2, 3], [1, 2, 3, 4], new byte[7]));
        Assert.Throws<ArgumentException>(() => codec.Encode([1, 2, 3], [1, 2, 3, 4], new byte[21]));
        Assert.Throws<ArgumentException>(() => codec.TryDecode(new byte[8], new byte[2]));
        Assert.Throws<ArgumentException>(() => codec.TryDecode(new byte[8], new byte[3], new byte[5]));
    }

    /// <summary>Any valid configuration (§5.3 limits, all three modes, appended bytes, both first-octet forms) round-trips.</summary>
    [Fact]
    public void Encode_then_decode_round_trips_for_every_configuration_shape() =>
        ConfigurationAndInputs.Sample(sample =>
        {
            (QuicLbConfiguration config, byte[] serverId, byte[] nonce, int cidLength) = sample;
            using var codec = new QuicLbCodec(config);
            byte[] cid = new byte[cidLength];
            codec.Encode(serverId, nonce, cid);

            Assert.Equal(config.ConfigRotation, cid[0] >> 5);
            if (config.SelfEncodeLength)
            {
                Assert.Equal(cidLength - 1, cid[0] & 0x1F);
            }

            if (config.Mode == QuicLbMode.Plaintext)
            {
                Assert.Equal(serverId, cid[1..(1 + serverId.Length)]);
            }

            byte[] decodedServerId = new byte[serverId.Length];
            byte[] decodedNonce = new byte[nonce.Length];
            Assert.True(codec.TryDecode(cid, decodedServerId));
            Assert.Equal(serverId, decodedServerId);
            Assert.True(codec.TryDecode(cid, decodedServerId, decodedNonce));
            Assert.Equal(serverId, decodedServerId);
            Assert.Equal(nonce, decodedNonce);
        }, iter: 300);

    /// <summary>§5.4.1: the single-pass ciphertext is exactly AES-128-ECB of server ID ‖ nonce.</summary>
    [Fact]
    public void Single_pass_is_one_aes_block() =>
        Gen.Select(Gen.Byte.Array[16], Gen.Int[1, 12], Gen.Byte.Array[16]).Sample((key, serverIdLength, block) =>
        {
            using var codec = new QuicLbCodec(new QuicLbConfiguration(0, serverIdLength, 16 - serverIdLength, key, selfEncodeLength: true));
            byte[] cid = new byte[17];
            codec.Encode(block.AsSpan(0, serverIdLength), block.AsSpan(serverIdLength), cid);
            using var aes = Aes.Create();
            aes.Key = key;
            Assert.Equal(aes.EncryptEcb(block, PaddingMode.None), cid[1..]);
        }, iter: 50);

    /// <summary>§4.1: unroutable input is "false", never an exception — random bytes of any length, any configuration.</summary>
    [Fact]
    public void Decoding_random_bytes_never_throws() =>
        Gen.Select(ConfigurationAndInputs, Gen.Byte.Array[0, 24]).Sample((sample, bytes) =>
        {
            using var codec = new QuicLbCodec(sample.Config);
            bool decoded = codec.TryDecode(bytes, new byte[sample.Config.ServerIdLength], new byte[sample.Config.NonceLength]);
            Assert.Equal(codec.IsRoutable(bytes), decoded);
        }, iter: 300);

    [Fact]
    public void Decoding_mutated_vectors_never_throws()
    {
        using var plaintext = new QuicLbCodec(new QuicLbConfiguration(0, 3, 4, selfEncodeLength: true));
        using var fourPass = new QuicLbCodec(new QuicLbConfiguration(1, 10, 5, Convert.FromHexString(VectorKey), selfEncodeLength: true));
        using var singlePass = new QuicLbCodec(new QuicLbConfiguration(2, 8, 8, Convert.FromHexString(VectorKey), selfEncodeLength: true));
        QuicLbCodec[] codecs = [plaintext, fourPass, singlePass];
        Mutations.Of(
                Convert.FromHexString("07c4605e4504cc4f"),
                Convert.FromHexString("2fcc381bc74cb4fbad2823a3d1f8fed2"),
                Convert.FromHexString("504dd2d05a7b0de9b2b9907afb5ecf8cc3"))
            .Sample(mutated =>
            {
                foreach (QuicLbCodec codec in codecs)
                {
                    QuicLbConfiguration config = codec.Configuration;
                    Assert.Equal(
                        codec.IsRoutable(mutated),
                        codec.TryDecode(mutated, new byte[config.ServerIdLength], new byte[config.NonceLength]));
                }
            }, iter: 2_000);
    }

    [Fact]
    public void A_disposed_codec_refuses_keyed_work()
    {
        var codec = new QuicLbCodec(new QuicLbConfiguration(0, 3, 4, Convert.FromHexString(VectorKey)));
        codec.Dispose();
        codec.Dispose();
        Assert.Throws<ObjectDisposedException>(() => codec.Encode([1, 2, 3], [1, 2, 3, 4], new byte[8]));
    }

    internal static readonly Gen<(QuicLbConfiguration Config, byte[] ServerId, byte[] Nonce, int CidLength)> ConfigurationAndInputs =
        from configRotation in Gen.Int[0, 6]
        from serverIdLength in Gen.Int[1, 15]
        from nonceLength in Gen.Int[4, 19 - serverIdLength]
        from keyed in Gen.Bool
        from key in Gen.Byte.Array[16]
        from selfEncode in Gen.Bool
        from extra in Gen.Int[0, 19 - serverIdLength - nonceLength]
        from serverId in Gen.Byte.Array[serverIdLength]
        from nonce in Gen.Byte.Array[nonceLength]
        select (new QuicLbConfiguration(configRotation, serverIdLength, nonceLength, keyed ? key : [], selfEncode),
            serverId, nonce, 1 + serverIdLength + nonceLength + extra);

    private static QuicLbCodec Codec(int configRotation, string sid, string nonce, string key)
        => new(new QuicLbConfiguration(configRotation, sid.Length / 2, nonce.Length / 2, Convert.FromHexString(key), selfEncodeLength: true));
}
