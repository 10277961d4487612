using System.Buffers.Binary;

namespace AspNetQuicSteer.Steering.Routing;

/// <summary>
/// The version-independent part of a QUIC header (RFC 8999), read without allocation and without any of the
/// version-specific checks (fixed bit, Length field, packet types) that
/// <see cref="AspNetQuicSteer.Quic.Packets.PacketHeader"/> applies: routing must work for every version, greased
/// fixed bits (RFC 9287) and packets the owner will reject anyway. The Quic project's
/// <c>PacketHeader.TryReadDestinationConnectionId</c> gives only the destination CID; CIBIR needs the source CID and
/// the version too, hence this reader.
/// </summary>
internal static class InvariantHeader
{
    /// <summary>RFC 8999 §5.1: the most significant bit of the first byte is the header form (1 = long).</summary>
    public const byte HeaderFormBit = 0x80;

    // RFC 8999 §5.1: first byte, Version (32), DCID Length (8), DCID (0..2040 bits), SCID Length (8), SCID.
    private const int VersionOffset = 1;
    private const int DestinationConnectionIdLengthOffset = 5;

    public static bool IsLongHeader(byte firstByte) => (firstByte & HeaderFormBit) != 0;

    /// <summary>
    /// Reads the version and both connection IDs of the long header at the start of <paramref name="datagram"/>
    /// (RFC 8999 §5.1; IDs may be up to 255 bytes for versions other than 1). False when the datagram ends before
    /// the end of the source connection ID. Does not check the header form bit.
    /// </summary>
    public static bool TryReadLongHeader(
        ReadOnlySpan<byte> datagram,
        out uint version,
        out ReadOnlySpan<byte> destinationConnectionId,
        out ReadOnlySpan<byte> sourceConnectionId)
    {
        version = 0;
        destinationConnectionId = default;
        sourceConnectionId = default;
        if (datagram.Length <= DestinationConnectionIdLengthOffset)
        {
            return false;
        }

        int dcidOffset = DestinationConnectionIdLengthOffset + 1;
        int dcidLength = datagram[DestinationConnectionIdLengthOffset];
        int scidLengthOffset = dcidOffset + dcidLength;
        if (datagram.Length <= scidLengthOffset)
        {
            return false;
        }

        int scidOffset = scidLengthOffset + 1;
        int scidLength = datagram[scidLengthOffset];
        if (datagram.Length < scidOffset + scidLength)
        {
            return false;
        }

        version = BinaryPrimitives.ReadUInt32BigEndian(datagram[VersionOffset..]);
        destinationConnectionId = datagram.Slice(dcidOffset, dcidLength);
        sourceConnectionId = datagram.Slice(scidOffset, scidLength);
        return true;
    }
}
