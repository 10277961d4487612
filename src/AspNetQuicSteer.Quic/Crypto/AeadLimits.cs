namespace AspNetQuicSteer.Quic.Crypto;

/// <summary>AEAD usage limits of RFC 9001 §6.6 for the QUIC cipher suites.</summary>
internal static class AeadLimits
{
    /// <summary>
    /// Confidentiality limit: packets that may be sealed with one key (RFC 9001 §6.6). AEAD_AES_128_GCM and
    /// AEAD_AES_256_GCM: 2^23. AEAD_CHACHA20_POLY1305: larger than the packet number space (2^62), so it is
    /// disregarded (reported as <see cref="long.MaxValue"/>).
    /// </summary>
    public static long ConfidentialityLimit(TlsCipherSuite suite)
        => suite == TlsCipherSuite.ChaCha20Poly1305Sha256 ? long.MaxValue : 1L << 23;

    /// <summary>
    /// Integrity limit: packets that may fail authentication within a connection, across all keys (RFC 9001 §6.6).
    /// AEAD_AES_128_GCM and AEAD_AES_256_GCM: 2^52. AEAD_CHACHA20_POLY1305: 2^36.
    /// </summary>
    public static long IntegrityLimit(TlsCipherSuite suite)
        => suite == TlsCipherSuite.ChaCha20Poly1305Sha256 ? 1L << 36 : 1L << 52;
}

/// <summary>
/// Count of received packets that failed authentication "during the lifetime of a connection ... across all keys"
/// (RFC 9001 §6.6). One instance per connection, shared by every <see cref="PacketAead"/> that opens packets for
/// it (key updates share it automatically, see <see cref="PacketProtectionKeys.NextKeyPhase"/>). Not thread-safe:
/// a connection is processed by one thread at a time.
/// </summary>
internal sealed class AeadIntegrityCounter
{
    /// <param name="integrityLimit">
    /// An optional lower limit than the AEADs' (RFC 9001 §6.6); the effective limit is the lowest of it and those of
    /// the AEADs that count into this instance.
    /// </param>
    public AeadIntegrityCounter(long integrityLimit = long.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(integrityLimit);
        IntegrityLimit = integrityLimit;
    }

    /// <summary>Packets that failed authentication so far.</summary>
    public long FailedOpens { get; private set; }

    /// <summary>
    /// Lowest integrity limit of any AEAD that counted into this instance (RFC 9001 §6.6 applies the limit of
    /// "the selected AEAD"; using the lowest seen is the conservative reading when Initial keys (AES-128-GCM) and
    /// a negotiated ChaCha20-Poly1305 suite count into the same connection).
    /// </summary>
    public long IntegrityLimit { get; private set; }

    /// <summary>
    /// RFC 9001 §6.6: once the count of failed packets reaches the integrity limit the connection must be closed
    /// with AEAD_LIMIT_REACHED and no further packet processed.
    /// </summary>
    public bool IntegrityLimitReached => FailedOpens >= IntegrityLimit;

    internal void ApplyLimit(long limit)
    {
        if (limit < IntegrityLimit)
        {
            IntegrityLimit = limit;
        }
    }

    internal void RecordFailure() => FailedOpens++;
}
