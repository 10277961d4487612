using System.Security.Cryptography;
using AspNetQuicSteer.Quic.Crypto;
using CsCheck;

namespace AspNetQuicSteer.Quic.Tests.Crypto;

public sealed class HeaderProtectionTests
{
    public static TheoryData<ushort> Suites =>
        [(ushort)TlsCipherSuite.Aes128GcmSha256, (ushort)TlsCipherSuite.Aes256GcmSha384, (ushort)TlsCipherSuite.ChaCha20Poly1305Sha256];

    [Theory]
    [InlineData(16)]
    [InlineData(32)]
    public void IntrinsicAesMatchesTheTransformForRandomKeysAndSamples(int keyLength)
    {
        // RFC 9001 §5.4.3: AES-128 (AEAD_AES_128_GCM) and AES-256 (AEAD_AES_256_GCM) ECB of the sample; the
        // AES-NI key schedule and rounds must agree with the platform's AES for every key and sample.
        Assert.SkipUnless(AesNiHeaderProtection.IsSupported, "AES-NI not available on this CPU.");
        Gen.Select(Gen.Byte.Array[keyLength], Gen.Byte.Array[16]).Sample((key, sample) =>
        {
            using var intrinsic = new AesNiHeaderProtection(key);
            using var transform = new AesTransformHeaderProtection(key);
            Span<byte> a = stackalloc byte[16];
            Span<byte> b = stackalloc byte[16];
            intrinsic.ComputeMask(sample, a);
            transform.ComputeMask(sample, b);
            Assert.True(a.SequenceEqual(b));
        }, iter: 2_000, threads: 1);
    }

    [Fact]
    public void IntrinsicAes256MatchesTheFips197AppendixC3Vector()
    {
        // FIPS 197 C.3 (AES-256): an independent check of the 14-round key schedule.
        Assert.SkipUnless(AesNiHeaderProtection.IsSupported, "AES-NI not available on this CPU.");
        using var hp = new AesNiHeaderProtection(Convert.FromHexString("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"));
        Span<byte> mask = stackalloc byte[16];
        hp.ComputeMask(Convert.FromHexString("00112233445566778899aabbccddeeff"), mask);
        Assert.Equal("8ea2b7ca516745bfeafc49904b496089", Convert.ToHexStringLower(mask));
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void ProtectThenUnprotectRestoresTheHeaderAndTouchesOnlyProtectedBits(ushort suiteId)
    {
        var suite = (TlsCipherSuite)suiteId;
        // RFC 9001 §5.4.1: long header -> 4 low bits of byte 0, short header -> 5; then the pn_length PN bytes.
        using HeaderProtection hp = HeaderProtection.Create(suite, RandomNumberGenerator.GetBytes(suite.HeaderProtectionKeyLength()));
        var gen = from longHeader in Gen.Bool
                  from pnOffset in Gen.Int[1, 60]
                  from pnLength in Gen.Int[1, 4]
                  from extra in Gen.Int[0, 40]
                  from bytes in Gen.Byte.Array[pnOffset + HeaderProtection.MinLengthFromPacketNumber + extra]
                  select (longHeader, pnOffset, pnLength, bytes);
        gen.Sample(c =>
        {
            byte[] packet = c.bytes;
            packet[0] = (byte)((c.longHeader ? 0xc0 : 0x40) | (packet[0] & 0x3c) | (c.pnLength - 1));
            byte[] original = (byte[])packet.Clone();
            hp.Protect(packet, c.pnOffset, c.pnLength);
            byte unprotectedBits = (byte)(c.longHeader ? 0x0f : 0x1f);
            Assert.Equal(original[0] & ~unprotectedBits & 0xff, packet[0] & ~unprotectedBits & 0xff);
            Assert.True(original.AsSpan(1, c.pnOffset - 1).SequenceEqual(packet.AsSpan(1, c.pnOffset - 1)));
            Assert.True(original.AsSpan(c.pnOffset + c.pnLength).SequenceEqual(packet.AsSpan(c.pnOffset + c.pnLength)));
            Assert.True(hp.TryUnprotect(packet, c.pnOffset, out int pnLength));
            Assert.Equal(c.pnLength, pnLength);
            Assert.Equal(original, packet);
        }, iter: 3_000, threads: 1);
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void TryUnprotectRejectsPacketsTooShortForTheSample(ushort suiteId)
    {
        var suite = (TlsCipherSuite)suiteId;
        // RFC 9001 §5.4.2: sample_offset = pn_offset + 4; "An endpoint MUST discard packets that are not long
        // enough to contain a complete sample" -> false, packet untouched.
        using HeaderProtection hp = HeaderProtection.Create(suite, RandomNumberGenerator.GetBytes(suite.HeaderProtectionKeyLength()));
        for (int pnOffset = 1; pnOffset < 30; pnOffset++)
        {
            byte[] shortPacket = RandomNumberGenerator.GetBytes(pnOffset + 4 + 15);
            byte[] copy = (byte[])shortPacket.Clone();
            Assert.False(hp.TryUnprotect(shortPacket, pnOffset, out int pnLength));
            Assert.Equal(0, pnLength);
            Assert.Equal(copy, shortPacket);
            Assert.True(hp.TryUnprotect(RandomNumberGenerator.GetBytes(pnOffset + 4 + 16), pnOffset, out pnLength));
            Assert.InRange(pnLength, 1, 4);
        }

        Assert.False(hp.TryUnprotect(new byte[64], 0, out _));
        Assert.False(hp.TryUnprotect(new byte[64], -1, out _));
        Assert.False(hp.TryUnprotect(new byte[64], int.MaxValue, out _));
        Assert.False(hp.TryUnprotect([], 1, out _));
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void ProtectRefusesPacketsTooShortForTheSample(ushort suiteId)
    {
        var suite = (TlsCipherSuite)suiteId;
        // RFC 9001 §5.4.2: the sender must pad; sealing a too-short packet is a caller bug.
        using HeaderProtection hp = HeaderProtection.Create(suite, RandomNumberGenerator.GetBytes(suite.HeaderProtectionKeyLength()));
        Assert.Throws<ArgumentException>(() => hp.Protect(new byte[1 + 19], 1, 1));
        Assert.Throws<ArgumentException>(() => hp.Protect(new byte[40], 1, 5));
        Assert.Throws<ArgumentException>(() => hp.Protect(new byte[40], 0, 1));
        hp.Protect(new byte[1 + 20], 1, 1);
    }

    [Theory]
    [InlineData((ushort)TlsCipherSuite.Aes128GcmSha256, 32)]
    [InlineData((ushort)TlsCipherSuite.Aes256GcmSha384, 16)]
    [InlineData((ushort)TlsCipherSuite.ChaCha20Poly1305Sha256, 16)]
    public void CreateRejectsWrongKeyLengths(ushort suiteId, int keyLength)
    {
        var suite = (TlsCipherSuite)suiteId;
        // RFC 9001 §5.4: the hp key length is the AES key size, or 32 for ChaCha20.
        Assert.Throws<ArgumentException>(() => HeaderProtection.Create(suite, new byte[keyLength]));
    }

    [Fact]
    public void ChaChaCounterIsTheLittleEndianFirstFourSampleBytes()
    {
        // RFC 9001 §5.4.4: counter = sample[0..4] as little endian. Counter 1 with nonce N must give ChaCha20 block
        // 1's keystream, which equals bytes 64..69 of the keystream for counter 0 (RFC 8439 §2.4).
        byte[] key = RandomNumberGenerator.GetBytes(32);
        using HeaderProtection hp = HeaderProtection.Create(TlsCipherSuite.ChaCha20Poly1305Sha256, key);
        byte[] nonce = RandomNumberGenerator.GetBytes(12);
        byte[] sample1 = [0x01, 0x00, 0x00, 0x00, .. nonce];
        Span<byte> mask = stackalloc byte[16];
        hp.ComputeMask(sample1, mask);

        // Keystream for counter 0 over 69 bytes (no raw ChaCha20 in-box, so libsodium directly).
        byte[] stream = new byte[69];
        unsafe
        {
            fixed (byte* s = stream)
            fixed (byte* n = nonce)
            fixed (byte* k = key)
            {
                Assert.Equal(0, LibSodium.crypto_stream_chacha20_ietf_xor_ic(s, s, (ulong)stream.Length, n, 0, k));
            }
        }

        Assert.Equal(Convert.ToHexStringLower(stream.AsSpan(64, 5)), Convert.ToHexStringLower(mask[..5]));
    }
}
