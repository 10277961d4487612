using System.Security.Cryptography;
using AspNetQuicSteer.Quic.Crypto;
using CsCheck;

namespace AspNetQuicSteer.Quic.Tests.Crypto;

public sealed class PacketAeadTests
{
    public static TheoryData<ushort> Suites =>
        [(ushort)TlsCipherSuite.Aes128GcmSha256, (ushort)TlsCipherSuite.Aes256GcmSha384, (ushort)TlsCipherSuite.ChaCha20Poly1305Sha256];

    private static PacketAead NewAead(TlsCipherSuite suite, AeadIntegrityCounter? counter = null, long? limit = null)
        => new(suite, RandomNumberGenerator.GetBytes(suite.KeyLength()), RandomNumberGenerator.GetBytes(12), counter, limit);

    [Fact]
    public void NonceIsIvXorLeftPaddedPacketNumber()
    {
        // RFC 9001 §5.3: the 62-bit packet number, big endian, left-padded to 12 bytes, XOR the IV.
        byte[] iv = Convert.FromHexString("000102030405060708090a0b");
        using var aead = new PacketAead(TlsCipherSuite.Aes128GcmSha256, new byte[16], iv);
        Span<byte> nonce = stackalloc byte[12];
        aead.WriteNonce(0, nonce);
        Assert.Equal("000102030405060708090a0b", Convert.ToHexStringLower(nonce));
        aead.WriteNonce(0x3fffffffffffffff, nonce);
        Assert.Equal("000102033bfaf9f8f7f6f5f4", Convert.ToHexStringLower(nonce));
        aead.WriteNonce(0x0102, nonce);
        Assert.Equal("000102030405060708090b09", Convert.ToHexStringLower(nonce));
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void SealThenOpenRoundTrips(ushort suiteId)
    {
        var suite = (TlsCipherSuite)suiteId;
        // RFC 9001 §5.3: AEAD with the header as associated data; 16-byte tag for every suite.
        using PacketAead aead = NewAead(suite);
        var gen = from ad in Gen.Byte.Array[1, 64]
                  from payload in Gen.Byte.Array[0, 1500]
                  from pn in Gen.ULong[0, PacketAead.MaxPacketNumber]
                  select (ad, payload, pn);
        gen.Sample(c =>
        {
            byte[] buffer = (byte[])c.payload.Clone();
            byte[] tag = new byte[PacketAead.TagLength];
            aead.Seal(c.pn, c.ad, buffer, tag);
            Assert.True(aead.TryOpen(c.pn, c.ad, buffer, tag));
            Assert.Equal(c.payload, buffer);
        }, iter: 1_000, threads: 1);
        Assert.Equal(0, aead.Integrity.FailedOpens);
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void TamperedInputFailsAndCountsAgainstTheIntegrityLimit(ushort suiteId)
    {
        var suite = (TlsCipherSuite)suiteId;
        // RFC 9001 §6.6: endpoints MUST count received packets that fail authentication.
        using PacketAead aead = NewAead(suite);
        byte[] ad = [0x40, 1, 2, 3];
        byte[] payload = RandomNumberGenerator.GetBytes(100);
        byte[] tag = new byte[16];
        aead.Seal(7, ad, payload, tag);

        byte[] badTag = (byte[])tag.Clone();
        badTag[15] ^= 0x80;
        Assert.False(aead.TryOpen(7, ad, (byte[])payload.Clone(), badTag));
        Assert.False(aead.TryOpen(8, ad, (byte[])payload.Clone(), tag));
        Assert.False(aead.TryOpen(7, [0x41, 1, 2, 3], (byte[])payload.Clone(), tag));
        byte[] badPayload = (byte[])payload.Clone();
        badPayload[50] ^= 1;
        Assert.False(aead.TryOpen(7, ad, badPayload, tag));
        Assert.Equal(4, aead.Integrity.FailedOpens);

        // Malformed arguments are rejected without counting as a forgery attempt and without throwing.
        Assert.False(aead.TryOpen(7, ad, (byte[])payload.Clone(), tag.AsSpan(0, 15)));
        Assert.False(aead.TryOpen(PacketAead.MaxPacketNumber + 1, ad, (byte[])payload.Clone(), tag));
        Assert.Equal(4, aead.Integrity.FailedOpens);
        Assert.True(aead.TryOpen(7, ad, payload, tag));
    }

    [Theory]
    [InlineData((ushort)TlsCipherSuite.Aes128GcmSha256, 1L << 23, 1L << 52)]
    [InlineData((ushort)TlsCipherSuite.Aes256GcmSha384, 1L << 23, 1L << 52)]
    [InlineData((ushort)TlsCipherSuite.ChaCha20Poly1305Sha256, long.MaxValue, 1L << 36)]
    public void LimitsAreThoseOfRfc9001Section66(ushort suiteId, long confidentiality, long integrity)
    {
        var suite = (TlsCipherSuite)suiteId;
        // RFC 9001 §6.6: AES-GCM 2^23 / 2^52; ChaCha20-Poly1305 no practical confidentiality limit / 2^36.
        Assert.Equal(confidentiality, AeadLimits.ConfidentialityLimit(suite));
        Assert.Equal(integrity, AeadLimits.IntegrityLimit(suite));
        using PacketAead aead = NewAead(suite);
        Assert.Equal(confidentiality, aead.ConfidentialityLimit);
        Assert.Equal(integrity, aead.Integrity.IntegrityLimit);
        Assert.False(aead.ConfidentialityLimitReached);
        Assert.False(aead.Integrity.IntegrityLimitReached);
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void SealRefusesOnceTheConfidentialityLimitIsReached(ushort suiteId)
    {
        var suite = (TlsCipherSuite)suiteId;
        // RFC 9001 §6.6: "the endpoint MUST stop using those keys" at the confidentiality limit (lowered here).
        using PacketAead aead = NewAead(suite, limit: 3);
        byte[] tag = new byte[16];
        for (ulong pn = 0; pn < 3; pn++)
        {
            Assert.False(aead.ConfidentialityLimitReached);
            aead.Seal(pn, [0x40], new byte[8], tag);
        }

        Assert.Equal(3, aead.PacketsSealed);
        Assert.True(aead.ConfidentialityLimitReached);
        Assert.Throws<InvalidOperationException>(() => aead.Seal(3, [0x40], new byte[8], tag));
        Assert.Equal(3, aead.PacketsSealed);
    }

    [Fact]
    public void ConfidentialityLimitCannotBeRaisedAboveTheRfcValue()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => NewAead(TlsCipherSuite.Aes128GcmSha256, limit: (1L << 23) + 1));
    }

    [Fact]
    public void IntegrityLimitIsConnectionWideAndTheLowestOfTheAeadsThatCount()
    {
        // RFC 9001 §6.6: failures are counted "within the connection, across all keys".
        var counter = new AeadIntegrityCounter(integrityLimit: 3);
        using PacketAead a = NewAead(TlsCipherSuite.Aes128GcmSha256, counter);
        using PacketAead b = NewAead(TlsCipherSuite.ChaCha20Poly1305Sha256, counter);
        Assert.Equal(3, counter.IntegrityLimit);
        byte[] tag = new byte[16];
        Assert.False(a.TryOpen(1, [0x40], new byte[4], tag));
        Assert.False(b.TryOpen(1, [0x40], new byte[4], tag));
        Assert.False(counter.IntegrityLimitReached);
        Assert.False(a.TryOpen(2, [0x40], new byte[4], tag));
        Assert.True(counter.IntegrityLimitReached);

        var unbounded = new AeadIntegrityCounter();
        using PacketAead aes = NewAead(TlsCipherSuite.Aes128GcmSha256, unbounded);
        Assert.Equal(1L << 52, unbounded.IntegrityLimit);
        using PacketAead chacha = NewAead(TlsCipherSuite.ChaCha20Poly1305Sha256, unbounded);
        Assert.Equal(1L << 36, unbounded.IntegrityLimit);
    }

    [Theory]
    [InlineData((ushort)TlsCipherSuite.Aes128GcmSha256, 32, 12)]
    [InlineData((ushort)TlsCipherSuite.Aes256GcmSha384, 16, 12)]
    [InlineData((ushort)TlsCipherSuite.ChaCha20Poly1305Sha256, 32, 8)]
    public void RejectsWrongKeyOrIvLengths(ushort suiteId, int keyLength, int ivLength)
    {
        var suite = (TlsCipherSuite)suiteId;
        Assert.Throws<ArgumentException>(() => new PacketAead(suite, new byte[keyLength], new byte[ivLength]));
    }
}
