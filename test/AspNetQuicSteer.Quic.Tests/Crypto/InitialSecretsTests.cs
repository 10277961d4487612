using AspNetQuicSteer.Quic.Crypto;
using static AspNetQuicSteer.Quic.Tests.Crypto.Rfc9001Vectors;

namespace AspNetQuicSteer.Quic.Tests.Crypto;

public sealed class InitialSecretsTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex);

    [Fact]
    public void V1SaltIsTheRfc9001Section52Value()
    {
        // RFC 9001 §5.2: initial_salt = 0x38762cf7f55934b34d179ae6a4c80cadccbb7f0a
        Assert.Equal("38762cf7f55934b34d179ae6a4c80cadccbb7f0a", Convert.ToHexStringLower(InitialSecrets.V1Salt));
    }

    [Fact]
    public void InitialSecretMatchesAppendixA1()
    {
        // RFC 9001 A.1: initial_secret = HKDF-Extract(initial_salt, cid) (§5.2).
        Span<byte> secret = stackalloc byte[InitialSecrets.SecretLength];
        InitialSecrets.DeriveInitialSecret(Hex(ClientDcid), secret);
        Assert.Equal(InitialSecret, Convert.ToHexStringLower(secret));
    }

    [Fact]
    public void ClientAndServerInitialSecretsMatchAppendixA1()
    {
        // RFC 9001 A.1 / §5.2: "client in" and "server in" labels.
        Span<byte> client = stackalloc byte[32];
        Span<byte> server = stackalloc byte[32];
        InitialSecrets.Derive(Hex(ClientDcid), client, server);
        Assert.Equal(ClientInitialSecret, Convert.ToHexStringLower(client));
        Assert.Equal(ServerInitialSecret, Convert.ToHexStringLower(server));
    }

    // RFC 9001 A.1: key / iv / hp for each direction (§5.1 "quic key", "quic iv", "quic hp").
    [Theory]
    [InlineData(ClientInitialSecret, ClientKey, ClientIv, ClientHp)]
    [InlineData(ServerInitialSecret, ServerKey, ServerIv, ServerHp)]
    public void PacketProtectionKeysMatchAppendixA1(string secret, string key, string iv, string hp)
    {
        Span<byte> k = stackalloc byte[16];
        Span<byte> i = stackalloc byte[12];
        Span<byte> h = stackalloc byte[16];
        PacketProtectionKeys.DerivePacketKey(TlsCipherSuite.Aes128GcmSha256, Hex(secret), k, i);
        PacketProtectionKeys.DeriveHeaderProtectionKey(TlsCipherSuite.Aes128GcmSha256, Hex(secret), h);
        Assert.Equal(key, Convert.ToHexStringLower(k));
        Assert.Equal(iv, Convert.ToHexStringLower(i));
        Assert.Equal(hp, Convert.ToHexStringLower(h));
    }

    [Fact]
    public void CreateKeysUsesAes128GcmAndTheAppendixA1Directions()
    {
        // RFC 9001 §5.2: Initial packets use AEAD_AES_128_GCM; the client's hp key produces A.2's mask.
        (PacketProtectionKeys client, PacketProtectionKeys server) = InitialSecrets.CreateKeys(Hex(ClientDcid));
        using (client)
        using (server)
        {
            Assert.Equal(TlsCipherSuite.Aes128GcmSha256, client.Suite);
            Assert.Equal(TlsCipherSuite.Aes128GcmSha256, server.Suite);
            Span<byte> mask = stackalloc byte[HeaderProtection.MaskBufferLength];
            client.HeaderProtection.ComputeMask(Hex(ClientSample), mask);
            Assert.Equal(ClientMask, Convert.ToHexStringLower(mask[..5]));
            server.HeaderProtection.ComputeMask(Hex(ServerSample), mask);
            Assert.Equal(ServerMask, Convert.ToHexStringLower(mask[..5]));
        }
    }

    [Fact]
    public void DifferentConnectionIdsGiveDifferentSecrets()
    {
        // RFC 9001 §5.2: the secrets are a function of the client's Destination Connection ID.
        Span<byte> a = stackalloc byte[32];
        Span<byte> b = stackalloc byte[32];
        Span<byte> scratch = stackalloc byte[32];
        InitialSecrets.Derive(Hex(ClientDcid), a, scratch);
        InitialSecrets.Derive(Hex("8394c8f03e515709"), b, scratch);
        Assert.False(a.SequenceEqual(b));
    }
}
