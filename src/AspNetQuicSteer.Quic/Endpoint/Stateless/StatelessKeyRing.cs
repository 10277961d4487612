using System.Security.Cryptography;
using System.Text;

namespace AspNetQuicSteer.Quic.Endpoint.Stateless;

/// <summary>
/// The keys of the endpoint's stateless machinery, all derived from one configured master secret so that every
/// generation sharing a UDP port (ARCHITECTURE.md §4) seals and opens the same address-validation tokens
/// (RFC 9000 §8.1) and computes the same stateless reset token for a connection ID (RFC 9000 §10.3.2).
/// <para>
/// Hierarchy (HKDF-SHA256, RFC 5869): PRK = HKDF-Extract(salt = "AspNetQuicSteer stateless v1", IKM = master secret);
/// token key = HKDF-Expand(PRK, "aqs token key", 32) (XChaCha20-Poly1305); reset key = HKDF-Expand(PRK, "aqs reset key", 32)
/// (HMAC-SHA256); key id = HKDF-Expand(PRK, "aqs key id", 1). The key id travels in clear in each token so a
/// receiver picks the key without trial decryption; because it is derived from the secret, generations configured
/// with the same secret agree on it without further configuration.
/// </para>
/// <para>
/// Rotation: configure the new secret as current and the old one as previous; tokens sealed under either are
/// accepted, new tokens are sealed under the current one. Stateless reset tokens always use the current secret:
/// after a rotation, resets for connection IDs issued under the old secret are not recognized by their peers,
/// which then fall back to their idle timeout (RFC 9000 §10.3 makes stateless reset a best-effort last resort).
/// </para>
/// Immutable and thread-safe; it holds key bytes only. Crypto objects (which are not thread-safe) live in the
/// per-endpoint <see cref="AddressValidationTokenProtector"/>.
/// </summary>
internal sealed class StatelessKeyRing
{
    /// <summary>Minimum master secret length: 256 bits, the strength of the derived 256-bit AEAD and HMAC-SHA256 keys.</summary>
    public const int MinimumSecretLength = 32;

    public const int TokenKeyLength = 32;

    public const int ResetKeyLength = 32;

    private static readonly byte[] Salt = Encoding.ASCII.GetBytes("AspNetQuicSteer stateless v1");
    private static readonly byte[] TokenKeyLabel = Encoding.ASCII.GetBytes("aqs token key");
    private static readonly byte[] ResetKeyLabel = Encoding.ASCII.GetBytes("aqs reset key");
    private static readonly byte[] KeyIdLabel = Encoding.ASCII.GetBytes("aqs key id");

    /// <param name="masterSecret">The current secret, at least <see cref="MinimumSecretLength"/> bytes, identical in every generation.</param>
    /// <param name="previousMasterSecret">Empty, or the secret being rotated out; tokens sealed under it are still accepted.</param>
    public StatelessKeyRing(ReadOnlySpan<byte> masterSecret, ReadOnlySpan<byte> previousMasterSecret = default)
    {
        Current = new StatelessKeySet(masterSecret, nameof(masterSecret));
        Previous = previousMasterSecret.IsEmpty ? null : new StatelessKeySet(previousMasterSecret, nameof(previousMasterSecret));
    }

    /// <summary>Seals new tokens and computes stateless reset tokens.</summary>
    public StatelessKeySet Current { get; }

    /// <summary>Still accepted when opening tokens; null when no rotation is in progress.</summary>
    public StatelessKeySet? Previous { get; }

    /// <summary>A ring from a fresh random secret: for a single process or tests, where no other generation must agree.</summary>
    public static StatelessKeyRing CreateRandom()
    {
        Span<byte> secret = stackalloc byte[MinimumSecretLength];
        RandomNumberGenerator.Fill(secret);
        var ring = new StatelessKeyRing(secret);
        CryptographicOperations.ZeroMemory(secret);
        return ring;
    }

    /// <summary>The keys derived from one master secret.</summary>
    internal sealed class StatelessKeySet
    {
        private readonly byte[] _tokenKey = new byte[TokenKeyLength];
        private readonly byte[] _resetKey = new byte[ResetKeyLength];

        public StatelessKeySet(ReadOnlySpan<byte> masterSecret, string parameterName)
        {
            if (masterSecret.Length < MinimumSecretLength)
            {
                throw new ArgumentException($"The stateless master secret must be at least {MinimumSecretLength} bytes; got {masterSecret.Length}.", parameterName);
            }

            Span<byte> prk = stackalloc byte[32];
            HKDF.Extract(HashAlgorithmName.SHA256, masterSecret, Salt, prk);
            HKDF.Expand(HashAlgorithmName.SHA256, prk, _tokenKey, TokenKeyLabel);
            HKDF.Expand(HashAlgorithmName.SHA256, prk, _resetKey, ResetKeyLabel);
            Span<byte> keyId = stackalloc byte[1];
            HKDF.Expand(HashAlgorithmName.SHA256, prk, keyId, KeyIdLabel);
            KeyId = keyId[0];
            CryptographicOperations.ZeroMemory(prk);
        }

        /// <summary>Identifies this key set in the first byte of every token it seals.</summary>
        public byte KeyId { get; }

        /// <summary>XChaCha20-Poly1305 key for address-validation tokens (see AddressValidationTokenProtector).</summary>
        public ReadOnlySpan<byte> TokenKey => _tokenKey;

        /// <summary>HMAC-SHA256 key for stateless reset tokens.</summary>
        public ReadOnlySpan<byte> ResetKey => _resetKey;
    }
}
