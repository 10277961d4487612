using System.Security.Cryptography;
using AspNetQuicSteer.Quic.TransportParameters;

namespace AspNetQuicSteer.Quic.Endpoint.Stateless;

/// <summary>
/// Building and recognizing Stateless Reset datagrams (RFC 9000 §10.3). Pure functions; thread-safe; no allocation.
/// </summary>
internal static class StatelessReset
{
    /// <summary>
    /// RFC 9000 §10.3: Fixed Bits (2) + at least 38 Unpredictable Bits = 5 bytes, plus the 16-byte token: 21 bytes.
    /// Shorter datagrams are never a Stateless Reset (nor a valid short-header packet).
    /// </summary>
    public const int MinimumLength = 1 + 4 + StatelessResetToken.Length;

    /// <summary>
    /// RFC 9000 §10.3.3: a reset must be smaller than the datagram that triggered it (against reset loops) and at
    /// least <see cref="MinimumLength"/> bytes, so only datagrams of 22 bytes or more can be answered.
    /// </summary>
    public const int MinimumTriggerLength = MinimumLength + 1;

    /// <summary>
    /// RFC 9000 §10.3: a reset answering a datagram of 43 bytes or fewer SHOULD be exactly one byte shorter; longer
    /// triggers get at least 42 bytes, which leaves room for a 20-byte connection ID and a header-protection sample
    /// (1 + 20 + 4 + 16 = 41), so the reset can pass for a short-header packet (§10.3.3 notes that resets below 41
    /// bytes may be identifiable).
    /// </summary>
    public const int ShortTriggerLimit = 43;

    /// <summary>Default upper bound on a reset's size: enough to look like a small packet, small for reflection.</summary>
    public const int DefaultMaxLength = 64;

    /// <summary>
    /// Writes a Stateless Reset answering a datagram of <paramref name="triggeringDatagramLength"/> bytes: first byte
    /// 0b01xxxxxx (short-header form, fixed bit set, §10.3: MUST be formatted as a short header), unpredictable bytes,
    /// then <paramref name="token"/> as the last 16 bytes. False when the trigger is too short to answer
    /// (§10.3.3) or <paramref name="destination"/> cannot hold a reset that is both at least 21 bytes and shorter
    /// than the trigger.
    /// <para>
    /// The caller decides whether to reset at all: only for a packet that no live generation owns (ARCHITECTURE.md §4
    /// invariant 1: forward to the owner instead), after <see cref="StatelessResetRateLimiter"/> allows it, and with
    /// the token computed for the packet's DCID by <see cref="StatelessResetTokenGenerator"/>.
    /// </para>
    /// </summary>
    public static bool TryWrite(int triggeringDatagramLength, in StatelessResetToken token, Span<byte> destination, out int length, int maxLength = DefaultMaxLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, MinimumLength);
        length = 0;
        if (triggeringDatagramLength < MinimumTriggerLength)
        {
            return false;
        }

        // §10.3.3: strictly smaller than the trigger; this also keeps it far below §10.3's 3x amplification limit.
        int upper = Math.Min(triggeringDatagramLength - 1, Math.Min(maxLength, destination.Length));
        if (upper < MinimumLength)
        {
            return false;
        }

        // §10.3: one byte shorter than a trigger of at most 43 bytes (unless a smaller cap is configured); otherwise a
        // random length between 42 and the cap, so the size does not mark it as a reset.
        int lower = Math.Min(ShortTriggerLimit - 1, upper);
        length = triggeringDatagramLength <= ShortTriggerLimit ? upper : RandomNumberGenerator.GetInt32(lower, upper + 1);

        Span<byte> packet = destination[..length];
        RandomNumberGenerator.Fill(packet[..^StatelessResetToken.Length]);

        // §10.3 Figure 10: Fixed Bits (2) = 0b01 (form 0 = short header, fixed bit 1); the remaining 6 bits random.
        packet[0] = (byte)(0x40 | (packet[0] & 0x3F));
        token.Span.CopyTo(packet[^StatelessResetToken.Length..]);
        return true;
    }

    /// <summary>
    /// RFC 9000 §10.3.1: whether <paramref name="datagram"/> ends in one of <paramref name="peerTokens"/>, the reset
    /// tokens the peer issued for connection IDs this endpoint has used and not retired, for the remote address the
    /// datagram came from (the caller's selection). Call it when the first packet of a datagram could not be
    /// associated with a connection or could not be decrypted. Every token is compared in constant time and the loop
    /// does not stop at a match, so timing reveals nothing about token values. The header form is not checked:
    /// §10.3 says any packet ending in a valid token is a reset, as other versions might use a long header.
    /// </summary>
    public static bool IsStatelessReset(ReadOnlySpan<byte> datagram, ReadOnlySpan<StatelessResetToken> peerTokens)
    {
        if (datagram.Length < MinimumLength)
        {
            return false; // §10.3: never a valid packet, so never a reset.
        }

        ReadOnlySpan<byte> tail = datagram[^StatelessResetToken.Length..];
        bool match = false;
        foreach (ref readonly StatelessResetToken token in peerTokens)
        {
            match |= CryptographicOperations.FixedTimeEquals(tail, token.Span);
        }

        return match;
    }

    /// <summary>Single-token form of <see cref="IsStatelessReset(ReadOnlySpan{byte}, ReadOnlySpan{StatelessResetToken})"/>.</summary>
    public static bool IsStatelessReset(ReadOnlySpan<byte> datagram, in StatelessResetToken peerToken)
        => datagram.Length >= MinimumLength
            && CryptographicOperations.FixedTimeEquals(datagram[^StatelessResetToken.Length..], peerToken.Span);
}
