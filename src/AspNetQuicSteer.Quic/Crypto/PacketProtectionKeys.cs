using System.Security.Cryptography;

namespace AspNetQuicSteer.Quic.Crypto;

/// <summary>
/// Packet protection for one direction at one encryption level / key phase (RFC 9001 §5): the AEAD key and IV and
/// the header protection key derived from one traffic secret (RFC 9001 §5.1). Whole-packet helpers seal (AEAD, then
/// header protection, RFC 9001 §5.3/§5.4.1) and open (after header protection was removed) in place. Not thread-safe.
/// </summary>
internal sealed class PacketProtectionKeys : IDisposable
{
    /// <summary>AEAD expansion of every QUIC cipher suite (RFC 9001 §5.3): the tag appended after the payload.</summary>
    public const int TagLength = PacketAead.TagLength;

    /// <summary>Header protection sample length (RFC 9001 §5.4.2).</summary>
    public const int SampleLength = HeaderProtection.SampleLength;

    /// <summary>
    /// RFC 9001 §5.4.2: packet number length + payload length must be at least 4 (sample offset 4 + 16-byte sample
    /// = 20 bytes from the Packet Number field, of which the 16-byte tag provides 16); pad with PADDING frames.
    /// </summary>
    public const int MinPacketNumberAndPayloadLength = HeaderProtection.SampleOffset + SampleLength - TagLength;

    /// <summary>Short header Key Phase bit (RFC 9000 §17.3.1, RFC 9001 §6), valid after header protection is removed.</summary>
    public const byte KeyPhaseBit = 0x04;

    private readonly byte[] _secret;
    private int _disposed;

    private PacketProtectionKeys(TlsCipherSuite suite, byte[] secret, PacketAead aead, HeaderProtection headerProtection, int keyPhase)
    {
        Suite = suite;
        _secret = secret;
        Aead = aead;
        HeaderProtection = headerProtection;
        KeyPhase = keyPhase;
    }

    public TlsCipherSuite Suite { get; }

    public PacketAead Aead { get; }

    /// <summary>Header protection; the same instance (shared, reference counted) across key phases (RFC 9001 §6).</summary>
    public HeaderProtection HeaderProtection { get; }

    /// <summary>Key phase of these keys: 0 for the keys from TLS, flipping with each <see cref="NextKeyPhase"/> (RFC 9001 §6).</summary>
    public int KeyPhase { get; }

    /// <summary>Packets sealed with this key; compare with <see cref="PacketAead.ConfidentialityLimit"/> (RFC 9001 §6.6).</summary>
    public long PacketsSealed => Aead.PacketsSealed;

    /// <summary>RFC 9001 §6.6: a key update (or close with AEAD_LIMIT_REACHED) is due before sealing more packets.</summary>
    public bool ConfidentialityLimitReached => Aead.ConfidentialityLimitReached;

    /// <summary>Connection-wide failed-open count and integrity limit (RFC 9001 §6.6), shared with later key phases.</summary>
    public AeadIntegrityCounter Integrity => Aead.Integrity;

    /// <summary>Minimum payload length for a packet number of <paramref name="pnLength"/> bytes (RFC 9001 §5.4.2).</summary>
    public static int MinPayloadLength(int pnLength) => Math.Max(0, MinPacketNumberAndPayloadLength - pnLength);

    /// <summary>
    /// Derives key = HKDF-Expand-Label(secret, "quic key", "", key_length), iv = ... "quic iv" ... 12 and
    /// hp = ... "quic hp" ... (RFC 9001 §5.1) with the suite's hash. <paramref name="integrityCounter"/> is the
    /// connection's failed-open counter (RFC 9001 §6.6 counts across all keys); a new one when null.
    /// </summary>
    public static PacketProtectionKeys Create(TlsCipherSuite suite, ReadOnlySpan<byte> trafficSecret, AeadIntegrityCounter? integrityCounter = null)
    {
        if (trafficSecret.Length != suite.HashLength())
        {
            throw new ArgumentException($"{suite.IanaName()} traffic secrets are {suite.HashLength()} bytes.", nameof(trafficSecret));
        }

        Span<byte> hp = stackalloc byte[suite.HeaderProtectionKeyLength()];
        try
        {
            DeriveHeaderProtectionKey(suite, trafficSecret, hp);
            HeaderProtection headerProtection = HeaderProtection.Create(suite, hp);
            try
            {
                return CreateWithHeaderProtection(suite, trafficSecret, headerProtection, keyPhase: 0, integrityCounter);
            }
            catch
            {
                headerProtection.Dispose();
                throw;
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(hp);
        }
    }

    /// <summary>RFC 9001 §5.1: key = HKDF-Expand-Label(secret, "quic key", "", key_length); iv = ... "quic iv" ... 12.</summary>
    internal static void DerivePacketKey(TlsCipherSuite suite, ReadOnlySpan<byte> secret, Span<byte> key, Span<byte> iv)
    {
        HkdfLabel.ExpandLabel(suite.Hash(), secret, "quic key"u8, default, key[..suite.KeyLength()]);
        HkdfLabel.ExpandLabel(suite.Hash(), secret, "quic iv"u8, default, iv[..suite.IvLength()]);
    }

    /// <summary>RFC 9001 §5.1: hp = HKDF-Expand-Label(secret, "quic hp", "", hp_key_length).</summary>
    internal static void DeriveHeaderProtectionKey(TlsCipherSuite suite, ReadOnlySpan<byte> secret, Span<byte> hp)
        => HkdfLabel.ExpandLabel(suite.Hash(), secret, "quic hp"u8, default, hp[..suite.HeaderProtectionKeyLength()]);

    /// <summary>RFC 9001 §6.1: secret_&lt;n+1&gt; = HKDF-Expand-Label(secret_&lt;n&gt;, "quic ku", "", Hash.length).</summary>
    internal static void DeriveNextSecret(TlsCipherSuite suite, ReadOnlySpan<byte> secret, Span<byte> next)
        => HkdfLabel.ExpandLabel(suite.Hash(), secret, "quic ku"u8, default, next[..suite.HashLength()]);

    /// <summary>
    /// RFC 9001 §6.1: secret_&lt;n+1&gt; = HKDF-Expand-Label(secret_&lt;n&gt;, "quic ku", "", Hash.length); new AEAD
    /// key and IV from it (RFC 9001 §5.1), but the SAME header protection key: "header protection keys are not
    /// updated" (RFC 9001 §6). The result shares <see cref="HeaderProtection"/> and <see cref="Integrity"/> with this
    /// instance; both can be disposed independently in any order.
    /// </summary>
    public PacketProtectionKeys NextKeyPhase()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        Span<byte> next = stackalloc byte[Suite.HashLength()];
        try
        {
            DeriveNextSecret(Suite, _secret, next);
            HeaderProtection shared = HeaderProtection.AddReference();
            try
            {
                return CreateWithHeaderProtection(Suite, next, shared, KeyPhase ^ 1, Integrity);
            }
            catch
            {
                shared.Dispose();
                throw;
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(next);
        }
    }

    private static PacketProtectionKeys CreateWithHeaderProtection(TlsCipherSuite suite, ReadOnlySpan<byte> secret, HeaderProtection headerProtection, int keyPhase, AeadIntegrityCounter? integrityCounter)
    {
        Span<byte> key = stackalloc byte[suite.KeyLength()];
        Span<byte> iv = stackalloc byte[PacketAead.NonceLength];
        try
        {
            DerivePacketKey(suite, secret, key, iv);
            var aead = new PacketAead(suite, key, iv, integrityCounter);
            return new PacketProtectionKeys(suite, secret.ToArray(), aead, headerProtection, keyPhase);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
            CryptographicOperations.ZeroMemory(iv);
        }
    }

    /// <summary>
    /// Protects one packet in place. <paramref name="packet"/> starts at the packet's first byte and holds the
    /// unprotected header (packet number of <paramref name="pnLength"/> bytes at <paramref name="pnOffset"/>, Length
    /// field already final for long headers), then <paramref name="payloadLength"/> plaintext bytes, then room for the
    /// tag. Encrypts with the header as associated data (RFC 9001 §5.3), appends the tag, then applies header
    /// protection (RFC 9001 §5.4.1: after packet protection). Returns the protected packet's total length.
    /// </summary>
    /// <exception cref="ArgumentException">Inconsistent offsets, no room for the tag, or payload too short for the sample (RFC 9001 §5.4.2).</exception>
    /// <exception cref="InvalidOperationException">The confidentiality limit is reached (RFC 9001 §6.6).</exception>
    public int Seal(Span<byte> packet, int pnOffset, int pnLength, int payloadLength, ulong packetNumber)
    {
        // Compare against packet.Length - ... so that no sum of caller values can overflow.
        if (pnOffset < 1 || pnLength is < 1 or > 4 || payloadLength < 0
            || pnOffset > packet.Length - pnLength - TagLength
            || payloadLength > packet.Length - pnOffset - pnLength - TagLength
            || pnLength + payloadLength < MinPacketNumberAndPayloadLength
            || (packet[0] & 0x03) + 1 != pnLength)
        {
            throw new ArgumentException("Packet layout invalid: offsets, Packet Number Length bits, tag room, or payload shorter than the header protection sample needs (RFC 9001 §5.4.2).");
        }

        int headerLength = pnOffset + pnLength;
        int total = headerLength + payloadLength + TagLength;
        Span<byte> payload = packet.Slice(headerLength, payloadLength);
        Aead.Seal(packetNumber, packet[..headerLength], payload, packet.Slice(headerLength + payloadLength, TagLength));
        HeaderProtection.Protect(packet[..total], pnOffset, pnLength);
        return total;
    }

    /// <summary>
    /// Removes header protection (RFC 9001 §5.4.1) from one packet: returns false when the packet is too short for
    /// the sample (RFC 9001 §5.4.2). Same as <see cref="HeaderProtection.TryUnprotect"/>.
    /// </summary>
    public bool TryUnprotectHeader(Span<byte> packet, int pnOffset, out int pnLength)
        => HeaderProtection.TryUnprotect(packet, pnOffset, out pnLength);

    /// <summary>
    /// Opens one packet in place whose header protection is already removed (the Key Phase bit selects the keys
    /// first, RFC 9001 §6.3). <paramref name="packet"/> is exactly the packet: header, ciphertext, 16-byte tag;
    /// <paramref name="packetNumber"/> is the full reconstructed packet number (RFC 9000 §17.1). On success the
    /// plaintext is at packet[(pnOffset + pnLength)..][..payloadLength]. False (never an exception) when the packet
    /// is malformed or fails authentication; failures count toward the integrity limit (RFC 9001 §6.6) and leave the
    /// payload bytes unspecified.
    /// </summary>
    public bool TryOpen(Span<byte> packet, int pnOffset, int pnLength, ulong packetNumber, out int payloadLength)
    {
        payloadLength = 0;
        if (pnOffset < 1 || pnLength is < 1 or > 4 || pnOffset > packet.Length - pnLength - TagLength
            || (packet[0] & 0x03) + 1 != pnLength)
        {
            return false;
        }

        int headerLength = pnOffset + pnLength;
        int length = packet.Length - headerLength - TagLength;
        if (!Aead.TryOpen(packetNumber, packet[..headerLength], packet.Slice(headerLength, length), packet[(headerLength + length)..]))
        {
            return false;
        }

        payloadLength = length;
        return true;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Aead.Dispose();
        HeaderProtection.Dispose();
        CryptographicOperations.ZeroMemory(_secret);
    }
}
