using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Packets;

/// <summary>Retry packets (RFC 9000 §17.2.5) and the bytes their integrity tag covers (RFC 9001 §5.8).</summary>
internal static class RetryPacket
{
    /// <summary>RFC 9000 §17.2.5: the Retry Integrity Tag is 128 bits.</summary>
    public const int IntegrityTagLength = 16;

    public static int GetLengthWithoutIntegrityTag(int dcidLength, int scidLength, int tokenLength)
        => 1 + 4 + 1 + dcidLength + 1 + scidLength + tokenLength;

    /// <summary>
    /// Writes the Retry packet up to (not including) the integrity tag, which the crypto layer computes
    /// over <see cref="WritePseudoPacket"/> and appends. <paramref name="unusedBits"/> supplies the four
    /// Unused bits, which RFC 9000 §17.2.5 lets the server set arbitrarily.
    /// </summary>
    public static void WriteWithoutIntegrityTag(
        ref QuicWriter writer,
        uint version,
        ReadOnlySpan<byte> destinationConnectionId,
        ReadOnlySpan<byte> sourceConnectionId,
        ReadOnlySpan<byte> token,
        byte unusedBits = 0)
    {
        if (destinationConnectionId.Length > ConnectionId.MaxLength || sourceConnectionId.Length > ConnectionId.MaxLength)
        {
            throw new ArgumentException("Version 1 connection IDs are at most 20 bytes (RFC 9000 §17.2).");
        }

        if (token.IsEmpty)
        {
            // RFC 9000 §17.2.5.2: clients discard a Retry with an empty token, so sending one is a bug.
            throw new ArgumentException("A Retry token cannot be empty.", nameof(token));
        }

        // RFC 9000 §17.2.5: form 1, fixed 1, type 3, four unused bits.
        writer.WriteByte((byte)(0xF0 | (unusedBits & 0x0F)));
        writer.WriteUInt32(version);
        writer.WriteByte((byte)destinationConnectionId.Length);
        writer.WriteBytes(destinationConnectionId);
        writer.WriteByte((byte)sourceConnectionId.Length);
        writer.WriteBytes(sourceConnectionId);
        writer.WriteBytes(token);
    }

    /// <summary>RFC 9001 §5.8: length of the Retry pseudo-packet.</summary>
    public static int GetPseudoPacketLength(int originalDcidLength, int retryWithoutTagLength)
        => 1 + originalDcidLength + retryWithoutTagLength;

    /// <summary>
    /// RFC 9001 §5.8: the Retry pseudo-packet, the exact bytes the integrity tag authenticates:
    /// ODCID Length (8), Original Destination Connection ID, then the Retry packet without its tag.
    /// Returns the number of bytes written.
    /// </summary>
    public static int WritePseudoPacket(Span<byte> destination, ReadOnlySpan<byte> originalDestinationConnectionId, ReadOnlySpan<byte> retryWithoutTag)
    {
        if (originalDestinationConnectionId.Length > byte.MaxValue)
        {
            throw new ArgumentException("A connection ID length is one byte.", nameof(originalDestinationConnectionId));
        }

        var writer = new QuicWriter(destination);
        writer.WriteByte((byte)originalDestinationConnectionId.Length);
        writer.WriteBytes(originalDestinationConnectionId);
        writer.WriteBytes(retryWithoutTag);
        return writer.Position;
    }

    /// <summary>The received Retry without its integrity tag (the tail of the pseudo-packet).</summary>
    public static ReadOnlySpan<byte> GetPacketWithoutIntegrityTag(ReadOnlySpan<byte> packet, in PacketHeader header)
    {
        EnsureRetry(header);
        return packet[..(header.PacketLength - IntegrityTagLength)];
    }

    /// <summary>RFC 9000 §17.2.5: the last 16 bytes of the Retry packet.</summary>
    public static ReadOnlySpan<byte> GetIntegrityTag(ReadOnlySpan<byte> packet, in PacketHeader header)
    {
        EnsureRetry(header);
        return packet.Slice(header.PacketLength - IntegrityTagLength, IntegrityTagLength);
    }

    private static void EnsureRetry(in PacketHeader header)
    {
        if (header.Type != QuicPacketType.Retry)
        {
            throw new ArgumentException("The header is not a Retry packet's.", nameof(header));
        }
    }
}
