using System.Security.Cryptography;

namespace AspNetQuicSteer.Quic.Crypto;

/// <summary>
/// QUIC header protection (RFC 9001 §5.4) with one "quic hp" key: masks the low bits of the first byte and the
/// Packet Number field using a mask computed from a 16-byte sample of the packet ciphertext. The mask function is
/// AES-ECB (RFC 9001 §5.4.3) or raw ChaCha20 (RFC 9001 §5.4.4); key setup happens once per key and the per-packet
/// path allocates nothing. Not thread-safe.
/// </summary>
/// <remarks>
/// The header protection key survives key updates (RFC 9001 §6: "header protection keys are not updated"), so one
/// instance can be shared by successive key phases. Sharing is reference counted: every owner calls
/// <see cref="Dispose"/> exactly once and the key material is released when the last owner does.
/// </remarks>
internal abstract class HeaderProtection : IDisposable
{
    /// <summary>RFC 9001 §5.4.2: the sample starts 4 bytes after the start of the Packet Number field.</summary>
    public const int SampleOffset = 4;

    /// <summary>RFC 9001 §5.4.3, §5.4.4: every defined header protection function samples 16 bytes.</summary>
    public const int SampleLength = 16;

    /// <summary>Bytes a packet needs from the Packet Number field's start to its end for a complete sample (RFC 9001 §5.4.2).</summary>
    public const int MinLengthFromPacketNumber = SampleOffset + SampleLength;

    /// <summary>Size of the buffer <see cref="ComputeMask"/> writes (one AES block); only the first 5 bytes are used (RFC 9001 §5.4.1).</summary>
    public const int MaskBufferLength = 16;

    private const byte HeaderFormLong = 0x80;

    // RFC 9001 §5.4.1: long header -> 4 low bits of byte 0 protected, short header -> 5 low bits.
    private const byte LongHeaderFirstByteMask = 0x0f;
    private const byte ShortHeaderFirstByteMask = 0x1f;

    private int _references = 1;

    /// <summary>Creates the header protection function of <paramref name="suite"/> (RFC 9001 §5.4.3, §5.4.4).</summary>
    public static HeaderProtection Create(TlsCipherSuite suite, ReadOnlySpan<byte> key)
    {
        if (key.Length != suite.HeaderProtectionKeyLength())
        {
            throw new ArgumentException($"{suite.IanaName()} needs a {suite.HeaderProtectionKeyLength()}-byte header protection key.", nameof(key));
        }

        return suite switch
        {
            TlsCipherSuite.Aes128GcmSha256 or TlsCipherSuite.Aes256GcmSha384 => CreateAes(key, preferIntrinsics: true),
            TlsCipherSuite.ChaCha20Poly1305Sha256 => new ChaCha20HeaderProtection(key),
            _ => throw new ArgumentOutOfRangeException(nameof(suite), suite, "Not a QUIC cipher suite."),
        };
    }

    /// <summary>
    /// AES-ECB header protection (RFC 9001 §5.4.3) with a 16- or 32-byte key: AES-NI intrinsics when
    /// <paramref name="preferIntrinsics"/> and the CPU has them, else a reused ECB <see cref="ICryptoTransform"/>.
    /// </summary>
    public static HeaderProtection CreateAes(ReadOnlySpan<byte> key, bool preferIntrinsics)
        => preferIntrinsics && AesNiHeaderProtection.IsSupported
            ? new AesNiHeaderProtection(key)
            : new AesTransformHeaderProtection(key);

    /// <summary>
    /// header_protection(hp_key, sample) (RFC 9001 §5.4.3, §5.4.4): writes the mask into
    /// <paramref name="mask"/> (at least <see cref="MaskBufferLength"/> bytes; bytes 0..4 are the mask).
    /// </summary>
    public abstract void ComputeMask(ReadOnlySpan<byte> sample, Span<byte> mask);

    /// <summary>
    /// Applies header protection (RFC 9001 §5.4.1) to <paramref name="packet"/>, which holds exactly one packet whose
    /// packet number (unprotected, <paramref name="pnLength"/> bytes at <paramref name="pnOffset"/>) and payload are
    /// already written and encrypted.
    /// </summary>
    /// <exception cref="ArgumentException">The packet is too short to hold a sample (the packetizer must pad, RFC 9001 §5.4.2).</exception>
    public void Protect(Span<byte> packet, int pnOffset, int pnLength)
    {
        if (pnOffset < 1 || pnLength is < 1 or > 4 || pnOffset > packet.Length - MinLengthFromPacketNumber)
        {
            throw new ArgumentException("Packet number offset/length invalid, or packet too short for the header protection sample (RFC 9001 §5.4.2).");
        }

        Span<byte> mask = stackalloc byte[MaskBufferLength];
        // RFC 9001 §5.4.2: sample_offset = pn_offset + 4, assuming a 4-byte Packet Number field.
        ComputeMask(packet.Slice(pnOffset + SampleOffset, SampleLength), mask);
        // RFC 9001 §5.4.1: on protection pn_length comes from the still-unprotected first byte (the caller's value).
        packet[0] ^= (byte)(mask[0] & ((packet[0] & HeaderFormLong) != 0 ? LongHeaderFirstByteMask : ShortHeaderFirstByteMask));
        Span<byte> pn = packet.Slice(pnOffset, pnLength);
        for (int i = 0; i < pn.Length; i++)
        {
            pn[i] ^= mask[1 + i];
        }
    }

    /// <summary>
    /// Removes header protection (RFC 9001 §5.4.1) in place and reports the packet number length read from the
    /// unmasked first byte. Returns false, touching nothing, when <paramref name="packet"/> (exactly one packet) is
    /// too short for a complete sample at <paramref name="pnOffset"/> + 4: RFC 9001 §5.4.2 "An endpoint MUST discard
    /// packets that are not long enough to contain a complete sample".
    /// </summary>
    public bool TryUnprotect(Span<byte> packet, int pnOffset, out int pnLength)
    {
        pnLength = 0;
        if (pnOffset < 1 || pnOffset > packet.Length - MinLengthFromPacketNumber)
        {
            return false;
        }

        Span<byte> mask = stackalloc byte[MaskBufferLength];
        ComputeMask(packet.Slice(pnOffset + SampleOffset, SampleLength), mask);
        // RFC 9001 §5.4.1: removal differs only in that pn_length is read after unmasking the first byte.
        packet[0] ^= (byte)(mask[0] & ((packet[0] & HeaderFormLong) != 0 ? LongHeaderFirstByteMask : ShortHeaderFirstByteMask));
        pnLength = (packet[0] & 0x03) + 1;
        Span<byte> pn = packet.Slice(pnOffset, pnLength);
        for (int i = 0; i < pn.Length; i++)
        {
            pn[i] ^= mask[1 + i];
        }

        return true;
    }

    /// <summary>Adds an owner (a later key phase, RFC 9001 §6); each owner disposes once.</summary>
    internal HeaderProtection AddReference()
    {
        int current;
        do
        {
            current = Volatile.Read(ref _references);
            ObjectDisposedException.ThrowIf(current <= 0, this);
        }
        while (Interlocked.CompareExchange(ref _references, current + 1, current) != current);

        return this;
    }

    /// <summary>Releases this owner's reference; the key material is released with the last one.</summary>
    public void Dispose()
    {
        int current;
        do
        {
            current = Volatile.Read(ref _references);
            if (current <= 0)
            {
                return;
            }
        }
        while (Interlocked.CompareExchange(ref _references, current - 1, current) != current);

        if (current == 1)
        {
            DisposeKey();
            GC.SuppressFinalize(this);
        }
    }

    internal bool IsReleased => Volatile.Read(ref _references) <= 0;

    /// <summary>Releases and wipes the key material.</summary>
    protected abstract void DisposeKey();
}
