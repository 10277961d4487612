using AspNetQuicSteer.Quic.Crypto;
using static AspNetQuicSteer.Quic.Tests.Crypto.Rfc9001Vectors;

namespace AspNetQuicSteer.Quic.Tests.Crypto;

/// <summary>RFC 9001 Appendix A.2, A.3 and A.5: whole packets, protected and unprotected, byte for byte.</summary>
public sealed class PacketProtectionVectorTests
{
    private const int ClientPayloadLength = 1162; // RFC 9001 A.2: "enough PADDING frames to make a 1162-byte payload"
    private const int ClientPnOffset = 18;        // 1 + 4 + 1 + 8 (DCID) + 1 (SCID len 0) + 1 (token len) + 2 (Length)
    private const int ServerPnOffset = 18;        // 1 + 4 + 1 (DCID len 0) + 1 + 8 (SCID) + 1 (token len) + 2 (Length)

    private static byte[] Hex(string hex) => Convert.FromHexString(hex);

    private static byte[] ClientUnprotectedPacket()
    {
        // Header (pn 2, 4-byte encoding), CRYPTO frame, PADDING (zero bytes) to 1162, then 16 bytes of tag room.
        byte[] header = Hex(ClientUnprotectedHeader);
        byte[] frame = Hex(ClientInitialCryptoFrame);
        byte[] packet = new byte[header.Length + ClientPayloadLength + PacketProtectionKeys.TagLength];
        header.CopyTo(packet, 0);
        frame.CopyTo(packet, header.Length);
        return packet;
    }

    [Fact]
    public void ClientInitialSealsToAppendixA2Packet()
    {
        // RFC 9001 A.2: AEAD (§5.3) then header protection (§5.4.1) produce the given 1200-byte packet.
        (PacketProtectionKeys client, PacketProtectionKeys server) = InitialSecrets.CreateKeys(Hex(ClientDcid));
        using (client)
        using (server)
        {
            byte[] packet = ClientUnprotectedPacket();
            int length = client.Seal(packet, ClientPnOffset, pnLength: 4, ClientPayloadLength, packetNumber: 2);
            Assert.Equal(1200, length);
            Assert.Equal(ClientProtectedHeader, Convert.ToHexStringLower(packet.AsSpan(0, 22)));
            Assert.Equal(ClientProtectedPacket, Convert.ToHexStringLower(packet));
            Assert.Equal(1, client.PacketsSealed);
        }
    }

    [Fact]
    public void ClientInitialOpensFromAppendixA2Packet()
    {
        // RFC 9001 A.2 in reverse: remove header protection (§5.4.1), then the AEAD (§5.3) with pn 2.
        (PacketProtectionKeys client, PacketProtectionKeys server) = InitialSecrets.CreateKeys(Hex(ClientDcid));
        using (client)
        using (server)
        {
            byte[] packet = Hex(ClientProtectedPacket);
            Assert.True(client.TryUnprotectHeader(packet, ClientPnOffset, out int pnLength));
            Assert.Equal(4, pnLength);
            Assert.Equal(ClientUnprotectedHeader, Convert.ToHexStringLower(packet.AsSpan(0, 22)));
            Assert.True(client.TryOpen(packet, ClientPnOffset, pnLength, 2, out int payloadLength));
            Assert.Equal(ClientPayloadLength, payloadLength);
            Assert.Equal(ClientUnprotectedPacket().AsSpan(22, ClientPayloadLength).ToArray(), packet.AsSpan(22, payloadLength).ToArray());
            Assert.Equal(0, client.Integrity.FailedOpens);
        }
    }

    [Fact]
    public void ServerInitialSealsToAppendixA3Packet()
    {
        // RFC 9001 A.3: 2-byte packet number 1, so the sample starts at the third protected byte (§5.4.2).
        (PacketProtectionKeys client, PacketProtectionKeys server) = InitialSecrets.CreateKeys(Hex(ClientDcid));
        using (client)
        using (server)
        {
            byte[] header = Hex(ServerUnprotectedHeader);
            byte[] payload = Hex(ServerPayload);
            byte[] packet = new byte[header.Length + payload.Length + 16];
            header.CopyTo(packet, 0);
            payload.CopyTo(packet, header.Length);
            int length = server.Seal(packet, ServerPnOffset, 2, payload.Length, 1);
            Assert.Equal(packet.Length, length);
            Assert.Equal(ServerSample, Convert.ToHexStringLower(packet.AsSpan(ServerPnOffset + 4, 16)));
            Assert.Equal(ServerProtectedHeader, Convert.ToHexStringLower(packet.AsSpan(0, header.Length)));
            Assert.Equal(ServerProtectedPacket, Convert.ToHexStringLower(packet));
        }
    }

    [Fact]
    public void ServerInitialOpensFromAppendixA3Packet()
    {
        (PacketProtectionKeys client, PacketProtectionKeys server) = InitialSecrets.CreateKeys(Hex(ClientDcid));
        using (client)
        using (server)
        {
            byte[] packet = Hex(ServerProtectedPacket);
            Assert.True(server.TryUnprotectHeader(packet, ServerPnOffset, out int pnLength));
            Assert.Equal(2, pnLength);
            Assert.Equal(ServerUnprotectedHeader, Convert.ToHexStringLower(packet.AsSpan(0, 20)));
            Assert.True(server.TryOpen(packet, ServerPnOffset, pnLength, 1, out int payloadLength));
            Assert.Equal(ServerPayload, Convert.ToHexStringLower(packet.AsSpan(20, payloadLength)));
        }
    }

    [Theory]
    [InlineData(ClientHp, ClientSample, ClientMask)]
    [InlineData(ServerHp, ServerSample, ServerMask)]
    public void AesMaskMatchesAppendixA2AndA3WithBothImplementations(string hp, string sample, string mask)
    {
        // RFC 9001 §5.4.3: mask = AES-ECB(hp, sample); the intrinsic and the transform path agree with A.2/A.3.
        Span<byte> output = stackalloc byte[HeaderProtection.MaskBufferLength];
        using (HeaderProtection transform = HeaderProtection.CreateAes(Hex(hp), preferIntrinsics: false))
        {
            Assert.IsType<AesTransformHeaderProtection>(transform);
            transform.ComputeMask(Hex(sample), output);
            Assert.Equal(mask, Convert.ToHexStringLower(output[..5]));
        }

        Assert.SkipUnless(AesNiHeaderProtection.IsSupported, "AES-NI not available on this CPU.");
        output.Clear();
        using HeaderProtection intrinsic = HeaderProtection.CreateAes(Hex(hp), preferIntrinsics: true);
        Assert.IsType<AesNiHeaderProtection>(intrinsic);
        intrinsic.ComputeMask(Hex(sample), output);
        Assert.Equal(mask, Convert.ToHexStringLower(output[..5]));
    }

    [Fact]
    public void ChaChaKeysMatchAppendixA5()
    {
        // RFC 9001 A.5: key, iv, hp (§5.1) and ku (§6.1) from the given secret, SHA-256, 32-byte keys.
        byte[] secret = Hex(ChaChaSecret);
        Span<byte> key = stackalloc byte[32];
        Span<byte> iv = stackalloc byte[12];
        Span<byte> hp = stackalloc byte[32];
        Span<byte> ku = stackalloc byte[32];
        PacketProtectionKeys.DerivePacketKey(TlsCipherSuite.ChaCha20Poly1305Sha256, secret, key, iv);
        PacketProtectionKeys.DeriveHeaderProtectionKey(TlsCipherSuite.ChaCha20Poly1305Sha256, secret, hp);
        PacketProtectionKeys.DeriveNextSecret(TlsCipherSuite.ChaCha20Poly1305Sha256, secret, ku);
        Assert.Equal(ChaChaKey, Convert.ToHexStringLower(key));
        Assert.Equal(ChaChaIv, Convert.ToHexStringLower(iv));
        Assert.Equal(ChaChaHp, Convert.ToHexStringLower(hp));
        Assert.Equal(ChaChaKu, Convert.ToHexStringLower(ku));
    }

    [Fact]
    public void ChaChaNonceMatchesAppendixA5()
    {
        // RFC 9001 §5.3 / A.5: nonce = iv XOR left-padded pn 654360564.
        using var aead = new PacketAead(TlsCipherSuite.ChaCha20Poly1305Sha256, Hex(ChaChaKey), Hex(ChaChaIv));
        Span<byte> nonce = stackalloc byte[12];
        aead.WriteNonce(654360564, nonce);
        Assert.Equal(ChaChaNonce, Convert.ToHexStringLower(nonce));
    }

    [Fact]
    public void ChaChaMaskMatchesAppendixA5()
    {
        // RFC 9001 §5.4.4: counter = LE32(sample[0..4]), nonce = sample[4..16], ChaCha20 of 5 zero bytes (libsodium).
        using HeaderProtection hp = HeaderProtection.Create(TlsCipherSuite.ChaCha20Poly1305Sha256, Hex(ChaChaHp));
        Assert.IsType<ChaCha20HeaderProtection>(hp);
        Span<byte> mask = stackalloc byte[HeaderProtection.MaskBufferLength];
        hp.ComputeMask(Hex(ChaChaSample), mask);
        Assert.Equal(ChaChaMask, Convert.ToHexStringLower(mask[..5]));
    }

    [Fact]
    public void ChaChaShortHeaderSealsToAppendixA5Packet()
    {
        // RFC 9001 A.5: pn 654360564 encoded in 3 bytes, payload 01 (PING) -> the minimal 21-byte packet; the short
        // header masks 5 bits of the first byte (§5.4.1).
        using PacketProtectionKeys keys = PacketProtectionKeys.Create(TlsCipherSuite.ChaCha20Poly1305Sha256, Hex(ChaChaSecret));
        byte[] packet = new byte[21];
        Hex(ChaChaUnprotectedHeader).CopyTo(packet, 0);
        Hex(ChaChaPlaintext).CopyTo(packet, 4);
        int length = keys.Seal(packet, pnOffset: 1, pnLength: 3, payloadLength: 1, packetNumber: 654360564);
        Assert.Equal(21, length);
        Assert.Equal(ChaChaCiphertext, Convert.ToHexStringLower(packet.AsSpan(4)));
        Assert.Equal(ChaChaProtectedHeader, Convert.ToHexStringLower(packet.AsSpan(0, 4)));
        Assert.Equal(ChaChaPacket, Convert.ToHexStringLower(packet));
    }

    [Fact]
    public void ChaChaShortHeaderOpensFromAppendixA5Packet()
    {
        using PacketProtectionKeys keys = PacketProtectionKeys.Create(TlsCipherSuite.ChaCha20Poly1305Sha256, Hex(ChaChaSecret));
        byte[] packet = Hex(ChaChaPacket);
        Assert.True(keys.TryUnprotectHeader(packet, 1, out int pnLength));
        Assert.Equal(3, pnLength);
        Assert.Equal(ChaChaUnprotectedHeader, Convert.ToHexStringLower(packet.AsSpan(0, 4)));
        Assert.True(keys.TryOpen(packet, 1, pnLength, 654360564, out int payloadLength));
        Assert.Equal(ChaChaPlaintext, Convert.ToHexStringLower(packet.AsSpan(4, payloadLength)));
    }

    [Fact]
    public void OpeningWithTheWrongPacketNumberFails()
    {
        // RFC 9001 §5.3: the packet number is part of the nonce; A.5 with pn+1 must not authenticate.
        using PacketProtectionKeys keys = PacketProtectionKeys.Create(TlsCipherSuite.ChaCha20Poly1305Sha256, Hex(ChaChaSecret));
        byte[] packet = Hex(ChaChaPacket);
        Assert.True(keys.TryUnprotectHeader(packet, 1, out int pnLength));
        Assert.False(keys.TryOpen(packet, 1, pnLength, 654360565, out _));
        Assert.Equal(1, keys.Integrity.FailedOpens);
    }
}
