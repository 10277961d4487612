using System.Buffers;
using System.Security.Cryptography;

namespace AspNetQuicSteer.Quic.Crypto;

/// <summary>
/// Retry Integrity Tag (RFC 9001 §5.8): AEAD_AES_128_GCM with a fixed QUIC v1 key and nonce, empty plaintext, and
/// the Retry Pseudo-Packet (ODCID Length, ODCID, then the Retry packet without its tag) as associated data.
/// One AesGcm per thread is cached (AesGcm is not thread-safe), so no cipher is created per call.
/// </summary>
internal static class RetryIntegrity
{
    public const int TagLength = 16;

    /// <summary>RFC 9000 §17.2: connection IDs are at most 20 bytes in QUIC v1.</summary>
    public const int MaxConnectionIdLength = 20;

    private const int StackPseudoPacketLimit = 512;

    [ThreadStatic]
    private static AesGcm? t_aesGcm;

    /// <summary>RFC 9001 §5.8: K = 0xbe0c690b9f66575a1d766b54e368c84e.</summary>
    public static ReadOnlySpan<byte> V1Key =>
    [
        0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a, 0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68, 0xc8, 0x4e,
    ];

    /// <summary>RFC 9001 §5.8: N = 0x461599d35d632bf2239825bb.</summary>
    public static ReadOnlySpan<byte> V1Nonce =>
    [
        0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63, 0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb,
    ];

    /// <summary>RFC 9001 §5.8: K and N are HKDF-Expand-Label("quic key"/"quic iv") of this secret.</summary>
    public static ReadOnlySpan<byte> V1Secret =>
    [
        0xd9, 0xc9, 0x94, 0x3e, 0x61, 0x01, 0xfd, 0x20, 0x00, 0x21, 0x50, 0x6b, 0xcc, 0x02, 0x81, 0x4c,
        0x73, 0x03, 0x0f, 0x25, 0xc7, 0x9d, 0x71, 0xce, 0x87, 0x6e, 0xca, 0x87, 0x6e, 0x6f, 0xca, 0x8e,
    ];

    /// <summary>
    /// Computes the tag for a Retry packet (everything but the tag in <paramref name="retryWithoutTag"/>) sent in
    /// response to an Initial whose Destination Connection ID was <paramref name="originalDestinationConnectionId"/>.
    /// </summary>
    public static void ComputeTag(ReadOnlySpan<byte> originalDestinationConnectionId, ReadOnlySpan<byte> retryWithoutTag, Span<byte> tag)
    {
        if (originalDestinationConnectionId.Length > MaxConnectionIdLength)
        {
            throw new ArgumentException("Connection IDs are at most 20 bytes (RFC 9000 §17.2).", nameof(originalDestinationConnectionId));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(tag.Length, TagLength, nameof(tag));
        ComputeTagCore(originalDestinationConnectionId, retryWithoutTag, tag[..TagLength]);
    }

    /// <summary>
    /// Verifies the Retry Integrity Tag in the last 16 bytes of <paramref name="retryPacket"/> (RFC 9001 §5.8).
    /// False for a bad tag, a packet shorter than the tag, or an over-long ODCID; never throws for bad input.
    /// </summary>
    public static bool Verify(ReadOnlySpan<byte> originalDestinationConnectionId, ReadOnlySpan<byte> retryPacket)
    {
        if (originalDestinationConnectionId.Length > MaxConnectionIdLength || retryPacket.Length < TagLength)
        {
            return false;
        }

        Span<byte> expected = stackalloc byte[TagLength];
        ComputeTagCore(originalDestinationConnectionId, retryPacket[..^TagLength], expected);
        return CryptographicOperations.FixedTimeEquals(expected, retryPacket[^TagLength..]);
    }

    private static void ComputeTagCore(ReadOnlySpan<byte> odcid, ReadOnlySpan<byte> retryWithoutTag, Span<byte> tag)
    {
        // RFC 9001 §5.8 Figure 8: Retry Pseudo-Packet = ODCID Length (8) || ODCID || Retry packet without the tag.
        int length = 1 + odcid.Length + retryWithoutTag.Length;
        byte[]? rented = null;
        Span<byte> pseudo = length <= StackPseudoPacketLimit
            ? stackalloc byte[StackPseudoPacketLimit]
            : (rented = ArrayPool<byte>.Shared.Rent(length));
        pseudo = pseudo[..length];
        try
        {
            pseudo[0] = (byte)odcid.Length;
            odcid.CopyTo(pseudo[1..]);
            retryWithoutTag.CopyTo(pseudo[(1 + odcid.Length)..]);
            AesGcm aes = t_aesGcm ??= new AesGcm(V1Key, TagLength);
            // Plaintext is empty: the tag alone is the output.
            aes.Encrypt(V1Nonce, ReadOnlySpan<byte>.Empty, Span<byte>.Empty, tag, pseudo);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }
}
