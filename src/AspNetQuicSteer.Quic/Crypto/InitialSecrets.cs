using System.Security.Cryptography;

namespace AspNetQuicSteer.Quic.Crypto;

/// <summary>
/// QUIC version 1 Initial secrets (RFC 9001 §5.2): derived from the Destination Connection ID of the client's
/// first Initial packet, so any observer can compute them. Initial packets always use AEAD_AES_128_GCM with
/// SHA-256 (RFC 9001 §5.2: "the hash function for HKDF when deriving initial secrets and keys is SHA-256").
/// </summary>
internal static class InitialSecrets
{
    /// <summary>Length of initial_secret, client_initial_secret and server_initial_secret (SHA-256 output).</summary>
    public const int SecretLength = 32;

    /// <summary>Cipher suite whose AEAD and header protection protect Initial packets (RFC 9001 §5.2, §5.4).</summary>
    public const TlsCipherSuite Suite = TlsCipherSuite.Aes128GcmSha256;

    /// <summary>RFC 9001 §5.2: initial_salt = 0x38762cf7f55934b34d179ae6a4c80cadccbb7f0a (QUIC version 1).</summary>
    public static ReadOnlySpan<byte> V1Salt =>
    [
        0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
        0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a,
    ];

    /// <summary>RFC 9001 §5.2: initial_secret = HKDF-Extract(initial_salt, client_dst_connection_id).</summary>
    public static void DeriveInitialSecret(ReadOnlySpan<byte> clientDestinationConnectionId, Span<byte> initialSecret)
    {
        if (initialSecret.Length != SecretLength)
        {
            throw new ArgumentException("The initial secret is 32 bytes.", nameof(initialSecret));
        }

        HKDF.Extract(HashAlgorithmName.SHA256, clientDestinationConnectionId, V1Salt, initialSecret);
    }

    /// <summary>
    /// RFC 9001 §5.2: client_initial_secret = HKDF-Expand-Label(initial_secret, "client in", "", 32) and
    /// server_initial_secret = HKDF-Expand-Label(initial_secret, "server in", "", 32).
    /// </summary>
    public static void Derive(ReadOnlySpan<byte> clientDestinationConnectionId, Span<byte> clientSecret, Span<byte> serverSecret)
    {
        if (clientSecret.Length != SecretLength || serverSecret.Length != SecretLength)
        {
            throw new ArgumentException("Initial client and server secrets are 32 bytes each.");
        }

        Span<byte> initialSecret = stackalloc byte[SecretLength];
        try
        {
            DeriveInitialSecret(clientDestinationConnectionId, initialSecret);
            HkdfLabel.ExpandLabel(HashAlgorithmName.SHA256, initialSecret, "client in"u8, default, clientSecret);
            HkdfLabel.ExpandLabel(HashAlgorithmName.SHA256, initialSecret, "server in"u8, default, serverSecret);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(initialSecret);
        }
    }

    /// <summary>
    /// Packet protection for both directions of the Initial packet number space (RFC 9001 §5.2), keyed by the
    /// Destination Connection ID the client chose for its first Initial. A client seals with Client and opens with
    /// Server; a server does the reverse. The caller owns (and disposes) both.
    /// </summary>
    public static (PacketProtectionKeys Client, PacketProtectionKeys Server) CreateKeys(ReadOnlySpan<byte> clientDestinationConnectionId)
    {
        Span<byte> client = stackalloc byte[SecretLength];
        Span<byte> server = stackalloc byte[SecretLength];
        try
        {
            Derive(clientDestinationConnectionId, client, server);
            PacketProtectionKeys clientKeys = PacketProtectionKeys.Create(Suite, client);
            try
            {
                return (clientKeys, PacketProtectionKeys.Create(Suite, server));
            }
            catch
            {
                clientKeys.Dispose();
                throw;
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(client);
            CryptographicOperations.ZeroMemory(server);
        }
    }
}
