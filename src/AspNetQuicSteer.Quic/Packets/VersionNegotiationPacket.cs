using System.Buffers.Binary;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Packets;

/// <summary>Version Negotiation packets, RFC 9000 §17.2.1 and RFC 8999 §6.</summary>
internal static class VersionNegotiationPacket
{
    public static int GetLength(int dcidLength, int scidLength, int versionCount)
        => 1 + 4 + 1 + dcidLength + 1 + scidLength + (4 * versionCount);

    /// <summary>
    /// Writes a Version Negotiation packet answering a client packet. RFC 9000 §17.2.1: the DCID and
    /// SCID fields echo the client's SCID and DCID respectively (swapped); the first byte's Unused bits
    /// are arbitrary (<paramref name="randomBits"/>), with the header form bit set and, as RFC 9000
    /// §17.2.1 recommends for multiplexing with other protocols, 0x40 set too.
    /// </summary>
    public static void Write(
        ref QuicWriter writer,
        byte randomBits,
        ReadOnlySpan<byte> receivedDestinationConnectionId,
        ReadOnlySpan<byte> receivedSourceConnectionId,
        ReadOnlySpan<uint> supportedVersions)
    {
        if (receivedDestinationConnectionId.Length > byte.MaxValue || receivedSourceConnectionId.Length > byte.MaxValue)
        {
            throw new ArgumentException("RFC 8999 §5.1: connection ID lengths are one byte.");
        }

        writer.WriteByte((byte)(0xC0 | randomBits));
        writer.WriteUInt32(QuicVersion.Negotiation);
        writer.WriteByte((byte)receivedSourceConnectionId.Length);
        writer.WriteBytes(receivedSourceConnectionId);
        writer.WriteByte((byte)receivedDestinationConnectionId.Length);
        writer.WriteBytes(receivedDestinationConnectionId);
        foreach (uint version in supportedVersions)
        {
            writer.WriteUInt32(version);
        }
    }

    /// <summary>The Supported Version list of a parsed Version Negotiation packet.</summary>
    public static SupportedVersionEnumerator GetSupportedVersions(ReadOnlySpan<byte> packet, in PacketHeader header)
    {
        if (header.Type != QuicPacketType.VersionNegotiation)
        {
            throw new ArgumentException("The header is not a Version Negotiation packet's.", nameof(header));
        }

        return new SupportedVersionEnumerator(packet.Slice(header.SupportedVersionsOffset, header.PacketLength - header.SupportedVersionsOffset));
    }
}

/// <summary>Allocation-free walk over a Version Negotiation packet's 32-bit versions (length already checked to be a multiple of 4).</summary>
internal ref struct SupportedVersionEnumerator
{
    private readonly ReadOnlySpan<byte> _list;
    private int _position;

    public SupportedVersionEnumerator(ReadOnlySpan<byte> list)
    {
        _list = list;
        _position = -4;
    }

    public readonly int Count => _list.Length / 4;

    public readonly uint Current => BinaryPrimitives.ReadUInt32BigEndian(_list[_position..]);

    public readonly SupportedVersionEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        if (_position + 8 > _list.Length)
        {
            _position = _list.Length;
            return false;
        }

        _position += 4;
        return true;
    }

    /// <summary>RFC 9000 §6.2: a client discards a Version Negotiation packet that lists the version it chose.</summary>
    public readonly bool Contains(uint version)
    {
        for (int i = 0; i + 4 <= _list.Length; i += 4)
        {
            if (BinaryPrimitives.ReadUInt32BigEndian(_list[i..]) == version)
            {
                return true;
            }
        }

        return false;
    }
}
