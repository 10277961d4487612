using System.Security.Cryptography;
using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Packets;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Endpoint.Stateless;

/// <summary>Why a received Retry is discarded (RFC 9000 §17.2.5.2), or <see cref="Valid"/>.</summary>
internal enum RetryValidationResult
{
    Valid,

    /// <summary>The header is not a Retry's.</summary>
    NotRetry,

    /// <summary>A Retry must carry the version of the Initial it answers (RFC 9000 §17.2.5).</summary>
    WrongVersion,

    /// <summary>The Retry's DCID is not the client's SCID (RFC 9000 §17.2.5.1: the server echoes it).</summary>
    WrongDestinationConnectionId,

    /// <summary>RFC 9000 §17.2.5.2: a Retry whose SCID equals the DCID of the client's Initial is discarded.</summary>
    SourceEqualsOriginalDestination,

    /// <summary>RFC 9000 §17.2.5.2: a Retry with a zero-length token is discarded.</summary>
    EmptyToken,

    /// <summary>RFC 9001 §5.8 / RFC 9000 §17.2.5.2: the integrity tag does not verify with the client's ODCID.</summary>
    InvalidIntegrityTag,
}

/// <summary>
/// Building Retry packets on the server (RFC 9000 §17.2.5.1, §8.1.2) and checking received ones on the client
/// (§17.2.5.2). Stateless, thread-safe as far as <see cref="AddressValidationTokenProtector"/> is, and allocation-free.
/// </summary>
internal static class RetryPackets
{
    /// <summary>Largest Retry <see cref="TryWrite"/> produces: header with two 20-byte CIDs, the longest token, the tag.</summary>
    public const int MaxLength = 1 + 4 + 1 + ConnectionId.MaxLength + 1 + ConnectionId.MaxLength
        + AddressValidationTokenProtector.MaxTokenLength + RetryPacket.IntegrityTagLength;

    private const int MaxRetryScidAttempts = 4;

    /// <summary>
    /// Writes a Retry answering the client Initial at the start of <paramref name="initialDatagram"/>: DCID = the
    /// client's SCID, SCID = a new ID from <paramref name="connectionIds"/> (so a steering generator routes the client's
    /// next Initial), a Retry token (<see cref="AddressValidationTokenProtector.WriteRetryToken"/>) bound to the
    /// client's address, its original DCID and that new SCID, and the integrity tag (RFC 9001 §5.8). False when the
    /// packet is not a version 1 Initial, its IDs do not fit v1 limits, or no SCID different from the ODCID could be
    /// drawn (§17.2.5.1 forbids equality); <paramref name="destination"/> should hold <see cref="MaxLength"/> bytes.
    /// </summary>
    public static bool TryWrite(
        AddressValidationTokenProtector tokens,
        IConnectionIdGenerator connectionIds,
        in PeerAddress client,
        ReadOnlySpan<byte> initialDatagram,
        in PacketHeader initialHeader,
        DateTimeOffset now,
        Span<byte> destination,
        out int length,
        out ConnectionId retrySourceConnectionId)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(connectionIds);
        length = 0;
        retrySourceConnectionId = default;
        if (initialHeader.Type != QuicPacketType.Initial || initialHeader.Version != QuicConnection.Version1
            || initialHeader.DestinationConnectionIdLength > ConnectionId.MaxLength
            || initialHeader.SourceConnectionIdLength > ConnectionId.MaxLength
            || client.IsEmpty)
        {
            return false;
        }

        ReadOnlySpan<byte> originalDcid = initialHeader.GetDestinationConnectionId(initialDatagram);
        for (int attempt = 0; attempt < MaxRetryScidAttempts; attempt++)
        {
            ConnectionId candidate = connectionIds.Generate();
            if (!candidate.Equals(originalDcid))
            {
                retrySourceConnectionId = candidate;
                break;
            }
        }

        if (retrySourceConnectionId.IsEmpty && !originalDcid.IsEmpty)
        {
            return false; // §17.2.5.1: the Retry SCID MUST NOT equal the client's DCID.
        }

        length = Write(tokens, client, initialHeader.Version, originalDcid, initialHeader.GetSourceConnectionId(initialDatagram), retrySourceConnectionId.Span, now, destination);
        return true;
    }

    /// <summary>
    /// Writes a Retry (RFC 9000 §17.2.5.1) from explicit fields; returns its length. <paramref name="clientScid"/>
    /// becomes the Retry's DCID; <paramref name="originalDcid"/> (the client Initial's DCID) is authenticated by the
    /// integrity tag and sealed in the token.
    /// </summary>
    public static int Write(
        AddressValidationTokenProtector tokens,
        in PeerAddress client,
        uint version,
        ReadOnlySpan<byte> originalDcid,
        ReadOnlySpan<byte> clientScid,
        ReadOnlySpan<byte> retryScid,
        DateTimeOffset now,
        Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (retryScid.SequenceEqual(originalDcid))
        {
            throw new ArgumentException("The Retry SCID must differ from the client's DCID (RFC 9000 §17.2.5.1).", nameof(retryScid));
        }

        Span<byte> token = stackalloc byte[AddressValidationTokenProtector.MaxTokenLength];
        int tokenLength = tokens.WriteRetryToken(client, originalDcid, retryScid, now, token);
        int withoutTag = RetryPacket.GetLengthWithoutIntegrityTag(clientScid.Length, retryScid.Length, tokenLength);
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, withoutTag + RetryPacket.IntegrityTagLength, nameof(destination));

        // §17.2.5: the four Unused bits may be anything; random ones avoid a fingerprint.
        Span<byte> unused = stackalloc byte[1];
        RandomNumberGenerator.Fill(unused);
        scoped var writer = new QuicWriter(destination);
        RetryPacket.WriteWithoutIntegrityTag(ref writer, version, clientScid, retryScid, token[..tokenLength], unused[0]);
        RetryIntegrity.ComputeTag(originalDcid, destination[..withoutTag], destination.Slice(withoutTag, RetryPacket.IntegrityTagLength));
        return withoutTag + RetryPacket.IntegrityTagLength;
    }

    /// <summary>
    /// Client side, RFC 9000 §17.2.5.2: whether to process a received Retry (the packet at the start of
    /// <paramref name="packet"/>, parsed into <paramref name="header"/>) answering the client's Initial that had
    /// Destination Connection ID <paramref name="originalDcid"/> and Source Connection ID <paramref name="clientScid"/>.
    /// The caller still enforces "at most one Retry per connection attempt" and "not after any other server packet".
    /// Never throws for any packet bytes.
    /// </summary>
    public static RetryValidationResult Validate(
        ReadOnlySpan<byte> packet,
        in PacketHeader header,
        uint initialVersion,
        ReadOnlySpan<byte> originalDcid,
        ReadOnlySpan<byte> clientScid)
    {
        if (header.Type != QuicPacketType.Retry || header.PacketLength > packet.Length)
        {
            return RetryValidationResult.NotRetry;
        }

        if (header.Version != initialVersion)
        {
            return RetryValidationResult.WrongVersion;
        }

        if (!header.GetDestinationConnectionId(packet).SequenceEqual(clientScid))
        {
            return RetryValidationResult.WrongDestinationConnectionId;
        }

        if (header.GetSourceConnectionId(packet).SequenceEqual(originalDcid))
        {
            return RetryValidationResult.SourceEqualsOriginalDestination;
        }

        if (header.TokenLength <= 0)
        {
            return RetryValidationResult.EmptyToken;
        }

        return RetryIntegrity.Verify(originalDcid, packet[..header.PacketLength])
            ? RetryValidationResult.Valid
            : RetryValidationResult.InvalidIntegrityTag;
    }
}
