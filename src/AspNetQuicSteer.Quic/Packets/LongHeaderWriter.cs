using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Packets;

/// <summary>
/// Where the parts of a long-header packet being built sit in the writer's buffer, so that the
/// Length field can be patched once the payload size is known and packet protection can find the
/// packet number (RFC 9001 §5.4.2).
/// </summary>
internal readonly record struct LongHeaderLayout(
    int PacketStart,
    int LengthFieldOffset,
    int LengthFieldSize,
    int PacketNumberOffset,
    int PacketNumberLength)
{
    /// <summary>First byte after the packet number: where frames start.</summary>
    public int PayloadOffset => PacketNumberOffset + PacketNumberLength;
}

/// <summary>Writes Initial, 0-RTT and Handshake packet headers (RFC 9000 §17.2.2-§17.2.4), unprotected.</summary>
internal static class LongHeaderWriter
{
    /// <summary>
    /// A 2-byte Length field covers packets up to 16383 bytes, more than any datagram this stack
    /// sends; RFC 9000 §16 allows the non-minimal encoding so the field can be reserved before the
    /// payload size is known.
    /// </summary>
    public const int DefaultLengthFieldSize = 2;

    /// <summary>The header length, including the packet number, for sizing a packet before writing it.</summary>
    public static int GetHeaderLength(
        QuicPacketType type, int dcidLength, int scidLength, int tokenLength, int packetNumberLength, int lengthFieldSize = DefaultLengthFieldSize)
    {
        int length = 1 + 4 + 1 + dcidLength + 1 + scidLength;
        if (type == QuicPacketType.Initial)
        {
            length += QuicVarInt.GetLength((ulong)tokenLength) + tokenLength;
        }

        return length + lengthFieldSize + packetNumberLength;
    }

    /// <summary>
    /// Writes the header with a zeroed Length field of <paramref name="lengthFieldSize"/> bytes and the
    /// truncated packet number. Reserved bits are 0 (RFC 9000 §17.2: they must be 0 before protection).
    /// Call <see cref="PatchLength"/> after the payload (and room for the AEAD tag) is in place.
    /// </summary>
    public static LongHeaderLayout Write(
        ref QuicWriter writer,
        QuicPacketType type,
        uint version,
        ReadOnlySpan<byte> destinationConnectionId,
        ReadOnlySpan<byte> sourceConnectionId,
        ReadOnlySpan<byte> token,
        ulong packetNumber,
        int packetNumberLength,
        int lengthFieldSize = DefaultLengthFieldSize)
    {
        if (type is not (QuicPacketType.Initial or QuicPacketType.ZeroRtt or QuicPacketType.Handshake))
        {
            throw new ArgumentOutOfRangeException(nameof(type), type, "Only Initial, 0-RTT and Handshake headers carry a Length and packet number.");
        }

        if (destinationConnectionId.Length > ConnectionId.MaxLength || sourceConnectionId.Length > ConnectionId.MaxLength)
        {
            throw new ArgumentException("Version 1 connection IDs are at most 20 bytes (RFC 9000 §17.2).");
        }

        if (!token.IsEmpty && type != QuicPacketType.Initial)
        {
            throw new ArgumentException("Only Initial packets carry a token (RFC 9000 §17.2.2).", nameof(token));
        }

        if ((uint)(packetNumberLength - 1) >= PacketNumber.MaxEncodedLength)
        {
            throw new ArgumentOutOfRangeException(nameof(packetNumberLength), packetNumberLength, "A packet number is 1 to 4 bytes.");
        }

        int packetStart = writer.Position;

        // RFC 9000 §17.2: header form 1, fixed bit 1, long packet type, reserved 00, packet number length - 1.
        writer.WriteByte((byte)(0xC0 | ((int)type << 4) | (packetNumberLength - 1)));
        writer.WriteUInt32(version);
        writer.WriteByte((byte)destinationConnectionId.Length);
        writer.WriteBytes(destinationConnectionId);
        writer.WriteByte((byte)sourceConnectionId.Length);
        writer.WriteBytes(sourceConnectionId);
        if (type == QuicPacketType.Initial)
        {
            writer.WriteVarIntPrefixedBytes(token);
        }

        int lengthFieldOffset = writer.Position;
        writer.Reserve(lengthFieldSize).Clear();
        int packetNumberOffset = writer.Position;
        PacketNumber.Write(writer.Reserve(packetNumberLength), packetNumber, packetNumberLength);
        return new LongHeaderLayout(packetStart, lengthFieldOffset, lengthFieldSize, packetNumberOffset, packetNumberLength);
    }

    /// <summary>
    /// Fills the reserved Length field: RFC 9000 §17.2, the length of the packet number plus the
    /// payload, where <paramref name="packetEnd"/> is the buffer offset just past the packet
    /// (including the AEAD tag that protection will append).
    /// </summary>
    public static void PatchLength(Span<byte> buffer, in LongHeaderLayout layout, int packetEnd)
    {
        int length = packetEnd - layout.PacketNumberOffset;
        if (length < layout.PacketNumberLength)
        {
            throw new ArgumentOutOfRangeException(nameof(packetEnd), packetEnd, "The packet ends before its packet number does.");
        }

        QuicVarInt.TryWrite(buffer.Slice(layout.LengthFieldOffset, layout.LengthFieldSize), (ulong)length, layout.LengthFieldSize, out _);
    }
}
