using System.Security.Cryptography;
using AspNetQuicSteer.Quic.Crypto;
using static AspNetQuicSteer.Quic.Tests.Crypto.PacketProtectionTestPackets;

namespace AspNetQuicSteer.Quic.Tests.Crypto;

public sealed class KeyUpdateTests
{
    public static TheoryData<ushort> Suites =>
        [(ushort)TlsCipherSuite.Aes128GcmSha256, (ushort)TlsCipherSuite.Aes256GcmSha384, (ushort)TlsCipherSuite.ChaCha20Poly1305Sha256];

    private static byte[] SealShort(PacketProtectionKeys keys, ulong pn, byte[] payload)
    {
        byte[] packet = Unprotected(longHeader: false, pnOffset: 9, pnLength: 2, pn, payload);
        if (keys.KeyPhase == 1)
        {
            packet[0] |= PacketProtectionKeys.KeyPhaseBit;
        }

        Assert.Equal(packet.Length, keys.Seal(packet, 9, 2, payload.Length, pn));
        return packet;
    }

    private static bool Open(PacketProtectionKeys keys, byte[] sealedPacket, ulong pn, out byte[] payload, out int keyPhase)
    {
        byte[] packet = (byte[])sealedPacket.Clone();
        payload = [];
        keyPhase = -1;
        if (!keys.TryUnprotectHeader(packet, 9, out int pnLength))
        {
            return false;
        }

        keyPhase = (packet[0] & PacketProtectionKeys.KeyPhaseBit) != 0 ? 1 : 0;
        if (!keys.TryOpen(packet, 9, pnLength, pn, out int payloadLength))
        {
            return false;
        }

        payload = packet.AsSpan(9 + pnLength, payloadLength).ToArray();
        return true;
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void EachPhaseOpensOnlyItsOwnPackets(ushort suiteId)
    {
        var suite = (TlsCipherSuite)suiteId;
        // RFC 9001 §6.1: phase N+1 uses a new AEAD key/IV from "quic ku"; a packet sealed with one phase does not
        // authenticate with the other (§6.3: the receiver tries the keys the Key Phase bit selects).
        byte[] secret = RandomNumberGenerator.GetBytes(suite.HashLength());
        using PacketProtectionKeys sender0 = PacketProtectionKeys.Create(suite, secret);
        using PacketProtectionKeys sender1 = sender0.NextKeyPhase();
        using PacketProtectionKeys receiver0 = PacketProtectionKeys.Create(suite, secret);
        using PacketProtectionKeys receiver1 = receiver0.NextKeyPhase();
        byte[] payload = RandomNumberGenerator.GetBytes(40);

        byte[] phase0 = SealShort(sender0, 100, payload);
        byte[] phase1 = SealShort(sender1, 101, payload);

        Assert.True(Open(receiver0, phase0, 100, out byte[] opened, out int bit));
        Assert.Equal(payload, opened);
        Assert.Equal(0, bit);
        Assert.True(Open(receiver1, phase1, 101, out opened, out bit));
        Assert.Equal(payload, opened);
        Assert.Equal(1, bit);

        Assert.False(Open(receiver0, phase1, 101, out _, out bit));
        Assert.Equal(1, bit); // the header key is shared, so the bit is readable with either phase's keys (§6)
        Assert.False(Open(receiver1, phase0, 100, out _, out _));
        Assert.Equal(2, receiver0.Integrity.FailedOpens);
        Assert.Same(receiver0.Integrity, receiver1.Integrity);
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void NextKeyPhaseKeepsTheHeaderProtectionKeyAndUsesQuicKu(ushort suiteId)
    {
        var suite = (TlsCipherSuite)suiteId;
        // RFC 9001 §6: "header protection keys are not updated"; §6.1: secret_<n+1> = HKDF-Expand-Label(secret_<n>, "quic ku", "", Hash.length).
        byte[] secret = RandomNumberGenerator.GetBytes(suite.HashLength());
        using PacketProtectionKeys phase0 = PacketProtectionKeys.Create(suite, secret);
        using PacketProtectionKeys phase1 = phase0.NextKeyPhase();
        using PacketProtectionKeys phase2 = phase1.NextKeyPhase();
        Assert.Same(phase0.HeaderProtection, phase1.HeaderProtection);
        Assert.Same(phase0.HeaderProtection, phase2.HeaderProtection);
        Assert.Equal([0, 1, 0], new[] { phase0.KeyPhase, phase1.KeyPhase, phase2.KeyPhase });

        // The AEAD of phase 1 is exactly the one derived from ku = HKDF-Expand-Label(secret, "quic ku").
        byte[] ku = new byte[suite.HashLength()];
        PacketProtectionKeys.DeriveNextSecret(suite, secret, ku);
        using PacketProtectionKeys fromKu = PacketProtectionKeys.Create(suite, ku);
        byte[] payload = RandomNumberGenerator.GetBytes(30);
        byte[] packet = SealShort(phase1, 5, payload);
        Assert.True(phase0.TryUnprotectHeader(packet, 9, out int pnLength));
        Assert.True(fromKu.TryOpen(packet, 9, pnLength, 5, out int length));
        Assert.Equal(payload, packet.AsSpan(9 + pnLength, length).ToArray());

        // Whereas a fresh Create(ku) has ku's own hp key, which would not remove this packet's header protection.
        Assert.NotSame(fromKu.HeaderProtection, phase1.HeaderProtection);
        byte[] sample = RandomNumberGenerator.GetBytes(16);
        byte[] m1 = new byte[16];
        byte[] m2 = new byte[16];
        phase1.HeaderProtection.ComputeMask(sample, m1);
        fromKu.HeaderProtection.ComputeMask(sample, m2);
        Assert.NotEqual(m1.AsSpan(0, 5).ToArray(), m2.AsSpan(0, 5).ToArray());
    }

    [Fact]
    public void AppendixA5KuIsTheSecretOfTheNextPhase()
    {
        // RFC 9001 A.5 lists ku; NextKeyPhase must seal exactly as keys created from ku (AEAD part).
        byte[] secret = Convert.FromHexString(Rfc9001Vectors.ChaChaSecret);
        using PacketProtectionKeys phase0 = PacketProtectionKeys.Create(TlsCipherSuite.ChaCha20Poly1305Sha256, secret);
        using PacketProtectionKeys phase1 = phase0.NextKeyPhase();
        using var kuAead = new PacketAead(TlsCipherSuite.ChaCha20Poly1305Sha256, DeriveKey(Rfc9001Vectors.ChaChaKu), DeriveIv(Rfc9001Vectors.ChaChaKu));
        byte[] a = [1, 2, 3, 4];
        byte[] b = [1, 2, 3, 4];
        byte[] tagA = new byte[16];
        byte[] tagB = new byte[16];
        phase1.Aead.Seal(9, [0x44], a, tagA);
        kuAead.Seal(9, [0x44], b, tagB);
        Assert.Equal(a, b);
        Assert.Equal(tagA, tagB);

        static byte[] DeriveKey(string hex)
        {
            byte[] key = new byte[32];
            PacketProtectionKeys.DerivePacketKey(TlsCipherSuite.ChaCha20Poly1305Sha256, Convert.FromHexString(hex), key, new byte[12]);
            return key;
        }

        static byte[] DeriveIv(string hex)
        {
            byte[] iv = new byte[12];
            PacketProtectionKeys.DerivePacketKey(TlsCipherSuite.ChaCha20Poly1305Sha256, Convert.FromHexString(hex), new byte[32], iv);
            return iv;
        }
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void SharedHeaderProtectionSurvivesUntilTheLastPhaseIsDisposed(ushort suiteId)
    {
        var suite = (TlsCipherSuite)suiteId;
        // RFC 9001 §6: the hp key outlives any one key phase; old keys are discarded (§6.5) while new ones live on.
        PacketProtectionKeys phase0 = RandomKeys(suite);
        PacketProtectionKeys phase1 = phase0.NextKeyPhase();
        HeaderProtection shared = phase0.HeaderProtection;
        phase0.Dispose();
        phase0.Dispose(); // idempotent: must not release phase1's reference
        Assert.False(shared.IsReleased);
        Assert.Throws<ObjectDisposedException>(() => phase0.NextKeyPhase());

        byte[] payload = RandomNumberGenerator.GetBytes(20);
        byte[] packet = SealShort(phase1, 77, payload);
        Assert.True(Open(phase1, packet, 77, out byte[] opened, out _));
        Assert.Equal(payload, opened);

        PacketProtectionKeys phase2 = phase1.NextKeyPhase();
        phase1.Dispose();
        Assert.False(shared.IsReleased);
        phase2.Dispose();
        Assert.True(shared.IsReleased);
    }
}
