using System.Buffers.Binary;
using System.Security.Cryptography;

namespace AspNetQuicSteer.Quic.Crypto;

/// <summary>
/// The AEAD of one QUIC packet protection key (RFC 9001 §5.3): one key + IV of one cipher suite. The cipher object
/// (AesGcm or ChaCha20Poly1305) is created once here and reused for every packet; the per-packet path allocates
/// nothing. Not thread-safe (neither are AesGcm and ChaCha20Poly1305).
/// </summary>
internal sealed class PacketAead : IDisposable
{
    /// <summary>RFC 9001 §5.3: all QUIC cipher suites have a 16-byte authentication tag.</summary>
    public const int TagLength = 16;

    /// <summary>AEAD nonce length for all three suites (RFC 8446 §5.3, RFC 9001 §5.3).</summary>
    public const int NonceLength = 12;

    /// <summary>RFC 9000 §12.3: packet numbers are in the range 0 to 2^62-1.</summary>
    public const ulong MaxPacketNumber = (1UL << 62) - 1;

    private readonly AesGcm? _aesGcm;
    private readonly ChaCha20Poly1305? _chaCha;
    private readonly AeadIntegrityCounter _integrity;

    // The IV split into its first 4 bytes and last 8 bytes (big endian), so the nonce is built with two stores.
    private readonly uint _ivHigh;
    private readonly ulong _ivLow;

    /// <param name="suite">Cipher suite whose AEAD this is (RFC 9001 §5.3).</param>
    /// <param name="key">"quic key" (RFC 9001 §5.1).</param>
    /// <param name="iv">"quic iv" (RFC 9001 §5.1).</param>
    /// <param name="integrityCounter">The connection's failed-open counter (RFC 9001 §6.6); a new one when null.</param>
    /// <param name="confidentialityLimit">
    /// A lower confidentiality limit than RFC 9001 §6.6's, to force early key updates (e.g. to exercise them); at
    /// most the RFC limit.
    /// </param>
    public PacketAead(TlsCipherSuite suite, ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv, AeadIntegrityCounter? integrityCounter = null, long? confidentialityLimit = null)
    {
        if (key.Length != suite.KeyLength())
        {
            throw new ArgumentException($"{suite.IanaName()} needs a {suite.KeyLength()}-byte key.", nameof(key));
        }

        if (iv.Length != NonceLength)
        {
            throw new ArgumentException("QUIC packet protection IVs are 12 bytes.", nameof(iv));
        }

        Suite = suite;
        long rfcLimit = AeadLimits.ConfidentialityLimit(suite);
        if (confidentialityLimit is < 0 || confidentialityLimit > rfcLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(confidentialityLimit), "Must be between 0 and the RFC 9001 §6.6 limit.");
        }

        ConfidentialityLimit = confidentialityLimit ?? rfcLimit;
        _integrity = integrityCounter ?? new AeadIntegrityCounter();
        _integrity.ApplyLimit(AeadLimits.IntegrityLimit(suite));
        _ivHigh = BinaryPrimitives.ReadUInt32BigEndian(iv);
        _ivLow = BinaryPrimitives.ReadUInt64BigEndian(iv[4..]);
        switch (suite)
        {
            case TlsCipherSuite.Aes128GcmSha256:
            case TlsCipherSuite.Aes256GcmSha384:
                _aesGcm = new AesGcm(key, TagLength);
                break;
            case TlsCipherSuite.ChaCha20Poly1305Sha256:
                _chaCha = new ChaCha20Poly1305(key);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(suite), suite, "Not a QUIC cipher suite.");
        }
    }

    public TlsCipherSuite Suite { get; }

    /// <summary>Packets sealed with this key (RFC 9001 §6.6: endpoints MUST count encrypted packets per key).</summary>
    public long PacketsSealed { get; private set; }

    /// <summary>RFC 9001 §6.6 confidentiality limit of this AEAD (2^23 for AES-GCM, disregarded for ChaCha20-Poly1305).</summary>
    public long ConfidentialityLimit { get; }

    /// <summary>
    /// RFC 9001 §6.6: the endpoint MUST stop using this key once the limit is reached and MUST have initiated a key
    /// update before it is; when true, <see cref="Seal"/> refuses.
    /// </summary>
    public bool ConfidentialityLimitReached => PacketsSealed >= ConfidentialityLimit;

    /// <summary>The connection-wide count of failed opens this key reports into (RFC 9001 §6.6).</summary>
    public AeadIntegrityCounter Integrity => _integrity;

    /// <summary>
    /// Encrypts <paramref name="payloadInOut"/> in place and writes the 16-byte tag. <paramref name="associatedData"/>
    /// is the unprotected header up to and including the packet number (RFC 9001 §5.3).
    /// </summary>
    /// <exception cref="InvalidOperationException">The confidentiality limit is reached (RFC 9001 §6.6); update keys first.</exception>
    public void Seal(ulong packetNumber, ReadOnlySpan<byte> associatedData, Span<byte> payloadInOut, Span<byte> tag)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(packetNumber, MaxPacketNumber);
        if (PacketsSealed >= ConfidentialityLimit)
        {
            // RFC 9001 §6.6: "the endpoint MUST stop using those keys".
            throw new InvalidOperationException("AEAD confidentiality limit reached; a key update is required (RFC 9001 §6.6).");
        }

        Span<byte> nonce = stackalloc byte[NonceLength];
        WriteNonce(packetNumber, nonce);
        if (_aesGcm is not null)
        {
            _aesGcm.Encrypt(nonce, payloadInOut, payloadInOut, tag, associatedData);
        }
        else
        {
            _chaCha!.Encrypt(nonce, payloadInOut, payloadInOut, tag, associatedData);
        }

        PacketsSealed++;
    }

    /// <summary>
    /// Decrypts <paramref name="payloadInOut"/> in place. Returns false, and counts the failure against the integrity
    /// limit (RFC 9001 §6.6), when authentication fails; the payload bytes are then unspecified (the runtime zeroes
    /// them), so a caller that wants to retry with another key must keep a copy.
    /// </summary>
    public bool TryOpen(ulong packetNumber, ReadOnlySpan<byte> associatedData, Span<byte> payloadInOut, ReadOnlySpan<byte> tag)
    {
        if (tag.Length != TagLength || packetNumber > MaxPacketNumber)
        {
            return false;
        }

        Span<byte> nonce = stackalloc byte[NonceLength];
        WriteNonce(packetNumber, nonce);
        try
        {
            if (_aesGcm is not null)
            {
                _aesGcm.Decrypt(nonce, payloadInOut, tag, payloadInOut, associatedData);
            }
            else
            {
                _chaCha!.Decrypt(nonce, payloadInOut, tag, payloadInOut, associatedData);
            }

            return true;
        }
        catch (CryptographicException)
        {
            // AuthenticationTagMismatchException derives from CryptographicException: a forged or corrupted packet.
            _integrity.RecordFailure();
            return false;
        }
    }

    /// <summary>
    /// RFC 9001 §5.3: the 62-bit packet number, big endian, left-padded with zeros to the IV length, XORed with the
    /// IV. Only the last 8 nonce bytes can differ from the IV.
    /// </summary>
    internal void WriteNonce(ulong packetNumber, Span<byte> nonce)
    {
        BinaryPrimitives.WriteUInt32BigEndian(nonce, _ivHigh);
        BinaryPrimitives.WriteUInt64BigEndian(nonce[4..], _ivLow ^ packetNumber);
    }

    public void Dispose()
    {
        _aesGcm?.Dispose();
        _chaCha?.Dispose();
    }
}
