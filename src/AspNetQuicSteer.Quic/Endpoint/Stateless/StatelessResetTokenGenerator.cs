using System.Security.Cryptography;
using AspNetQuicSteer.Quic.TransportParameters;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Endpoint.Stateless;

/// <summary>
/// Stateless reset tokens (RFC 9000 §10.3) as a keyed function of the connection ID: the first 16 bytes of
/// HMAC-SHA256(reset key, connection ID). Every generation configured with the same master secret computes the same
/// token for a CID, so whichever process receives a packet for a connection that no live generation owns can reset
/// it. §10.3.2 requires exactly this property (the token must be recomputable from the CID without state) and that it
/// cannot be guessed without the key: HMAC-SHA256 is a PRF, so a token reveals nothing about the key or other tokens.
/// <para>
/// Put the token in the NEW_CONNECTION_ID frame for a CID (§19.15) and, for the CID chosen during the handshake, in
/// the stateless_reset_token transport parameter (§18.2). Threading: immutable; <see cref="Compute(ReadOnlySpan{byte})"/>
/// uses the one-shot static HMAC and may be called concurrently. It allocates nothing.
/// </para>
/// </summary>
internal sealed class StatelessResetTokenGenerator
{
    private readonly byte[] _key;

    public StatelessResetTokenGenerator(StatelessKeyRing keys)
    {
        ArgumentNullException.ThrowIfNull(keys);

        // §10.3.2: tokens of CIDs issued earlier must stay computable, so only the current secret is used (see
        // StatelessKeyRing about rotation).
        _key = keys.Current.ResetKey.ToArray();
    }

    public StatelessResetToken Compute(ReadOnlySpan<byte> connectionId)
    {
        Span<byte> token = stackalloc byte[StatelessResetToken.Length];
        Compute(connectionId, token);
        return new StatelessResetToken(token);
    }

    public StatelessResetToken Compute(in ConnectionId connectionId) => Compute(connectionId.Span);

    /// <summary>Writes the 16-byte token for <paramref name="connectionId"/> into <paramref name="destination"/>.</summary>
    public void Compute(ReadOnlySpan<byte> connectionId, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, StatelessResetToken.Length, nameof(destination));
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(_key, connectionId, mac);
        mac[..StatelessResetToken.Length].CopyTo(destination);
    }
}
