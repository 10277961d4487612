using System.Security.Cryptography;
using AspNetQuicSteer.Quic.Crypto;
using static AspNetQuicSteer.Quic.Tests.Crypto.Rfc9001Vectors;

namespace AspNetQuicSteer.Quic.Tests.Crypto;

public sealed class RetryIntegrityTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex);

    [Fact]
    public void KeyAndNonceAreDerivedFromTheV1RetrySecret()
    {
        // RFC 9001 §5.8: K and N are HKDF-Expand-Label(secret, "quic key"/"quic iv") of the listed secret.
        Assert.Equal("be0c690b9f66575a1d766b54e368c84e", Convert.ToHexStringLower(RetryIntegrity.V1Key));
        Assert.Equal("461599d35d632bf2239825bb", Convert.ToHexStringLower(RetryIntegrity.V1Nonce));
        Span<byte> key = stackalloc byte[16];
        Span<byte> iv = stackalloc byte[12];
        PacketProtectionKeys.DerivePacketKey(TlsCipherSuite.Aes128GcmSha256, RetryIntegrity.V1Secret, key, iv);
        Assert.True(key.SequenceEqual(RetryIntegrity.V1Key));
        Assert.True(iv.SequenceEqual(RetryIntegrity.V1Nonce));
    }

    [Fact]
    public void ComputesTheAppendixA4Tag()
    {
        // RFC 9001 A.4: the tag over the pseudo-packet with ODCID 0x8394c8f03e515708.
        byte[] retry = Hex(RetryPacket);
        Span<byte> tag = stackalloc byte[16];
        RetryIntegrity.ComputeTag(Hex(ClientDcid), retry.AsSpan(0, retry.Length - 16), tag);
        Assert.Equal("04a265ba2eff4d829058fb3f0f2496ba", Convert.ToHexStringLower(tag));
        Assert.True(tag.SequenceEqual(retry.AsSpan(retry.Length - 16)));
    }

    [Fact]
    public void VerifiesTheAppendixA4Packet()
    {
        Assert.True(RetryIntegrity.Verify(Hex(ClientDcid), Hex(RetryPacket)));
    }

    [Fact]
    public void RejectsEveryBitFlipOfTheAppendixA4Packet()
    {
        // RFC 9001 §5.8: the whole Retry packet is the associated data, the tag is the AEAD output.
        byte[] retry = Hex(RetryPacket);
        for (int bit = 0; bit < retry.Length * 8; bit++)
        {
            byte[] mutated = (byte[])retry.Clone();
            mutated[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.False(RetryIntegrity.Verify(Hex(ClientDcid), mutated), $"bit {bit}");
        }
    }

    [Theory]
    [InlineData("8394c8f03e515709")]       // a different ODCID (§5.8: only an observer of the Initial can forge)
    [InlineData("8394c8f03e5157")]         // shorter ODCID
    [InlineData("")]                       // empty ODCID
    [InlineData("000102030405060708090a0b0c0d0e0f1011121314")] // 21 bytes: longer than any v1 connection ID
    public void RejectsTheWrongOriginalConnectionId(string odcid)
    {
        Assert.False(RetryIntegrity.Verify(Hex(odcid), Hex(RetryPacket)));
    }

    [Fact]
    public void RejectsTruncatedPacketsWithoutThrowing()
    {
        byte[] retry = Hex(RetryPacket);
        for (int length = 0; length < retry.Length; length++)
        {
            Assert.False(RetryIntegrity.Verify(Hex(ClientDcid), retry.AsSpan(0, length)));
        }
    }

    [Fact]
    public void LargePseudoPacketsUseThePooledBuffer()
    {
        // A Retry packet with a long token (> the stack buffer) still round-trips.
        byte[] retry = new byte[1400];
        RandomNumberGenerator.Fill(retry);
        retry[0] = 0xf0;
        Span<byte> tag = stackalloc byte[16];
        RetryIntegrity.ComputeTag(Hex(ClientDcid), retry.AsSpan(0, retry.Length - 16), tag);
        tag.CopyTo(retry.AsSpan(retry.Length - 16));
        Assert.True(RetryIntegrity.Verify(Hex(ClientDcid), retry));
        retry[700] ^= 1;
        Assert.False(RetryIntegrity.Verify(Hex(ClientDcid), retry));
    }

    [Fact]
    public async Task IsSafeToUseFromManyThreads()
    {
        // AesGcm is not thread-safe; RetryIntegrity keeps one per thread.
        byte[] retry = Hex(RetryPacket);
        byte[] odcid = Hex(ClientDcid);
        Task<bool>[] tasks = Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            bool all = true;
            for (int i = 0; i < 2000; i++)
            {
                all &= RetryIntegrity.Verify(odcid, retry);
            }

            return all;
        })).ToArray();
        bool[] results = await Task.WhenAll(tasks);
        Assert.All(results, Assert.True);
    }
}
