using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Packets;

/// <summary>Writes 1-RTT short headers (RFC 9000 §17.3.1), unprotected.</summary>
internal static class ShortHeaderWriter
{
    public static int GetHeaderLength(int dcidLength, int packetNumberLength) => 1 + dcidLength + packetNumberLength;

    /// <summary>
    /// Writes the header and returns the buffer offset of the packet number. Set
    /// <paramref name="clearFixedBit"/> only when the peer advertised grease_quic_bit (RFC 9287 §3).
    /// </summary>
    public static int Write(
        ref QuicWriter writer,
        ReadOnlySpan<byte> destinationConnectionId,
        ulong packetNumber,
        int packetNumberLength,
        bool spin,
        bool keyPhase,
        bool clearFixedBit = false)
    {
        if (destinationConnectionId.Length > ConnectionId.MaxLength)
        {
            throw new ArgumentException("Version 1 connection IDs are at most 20 bytes (RFC 9000 §17.2).", nameof(destinationConnectionId));
        }

        if ((uint)(packetNumberLength - 1) >= PacketNumber.MaxEncodedLength)
        {
            throw new ArgumentOutOfRangeException(nameof(packetNumberLength), packetNumberLength, "A packet number is 1 to 4 bytes.");
        }

        // RFC 9000 §17.3.1: form 0, fixed bit 1, spin, reserved 00 (must be 0 before protection),
        // key phase, packet number length - 1.
        int first = (clearFixedBit ? 0 : 0x40) | (spin ? 0x20 : 0) | (keyPhase ? 0x04 : 0) | (packetNumberLength - 1);
        writer.WriteByte((byte)first);
        writer.WriteBytes(destinationConnectionId);
        int packetNumberOffset = writer.Position;
        PacketNumber.Write(writer.Reserve(packetNumberLength), packetNumber, packetNumberLength);
        return packetNumberOffset;
    }

    /// <summary>RFC 9000 §17.3.1: the key phase bit of an unprotected short-header first byte.</summary>
    public static bool GetKeyPhase(byte unprotectedFirstByte) => (unprotectedFirstByte & 0x04) != 0;

    /// <summary>RFC 9000 §17.3.1: reserved bits 0x18 must be 0 after header protection is removed (else PROTOCOL_VIOLATION).</summary>
    public static bool HasReservedBitsSet(byte unprotectedFirstByte) => (unprotectedFirstByte & 0x18) != 0;
}
