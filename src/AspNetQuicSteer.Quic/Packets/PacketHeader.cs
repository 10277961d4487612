using System.Buffers.Binary;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Packets;

/// <summary>
/// The fields of one packet's header as visible before header protection is removed (RFC 8999
/// invariants, RFC 9000 §17.2 and §17.3). It holds only offsets and lengths relative to the start of
/// the packet, so it is cheap to copy and never allocates; pass the packet's bytes to the accessors.
/// Protected bits (reserved bits, key phase, packet number length and the packet number itself) are
/// not interpreted here.
/// </summary>
internal readonly struct PacketHeader
{
    // RFC 8999 §5.1: the most significant bit of the first byte is the header form.
    private const byte HeaderFormBit = 0x80;

    // RFC 9000 §17.2/§17.3.1: the fixed bit; RFC 9287 lets peers that negotiated grease_quic_bit clear it.
    private const byte FixedBit = 0x40;

    // RFC 9000 §17.3.1: the latency spin bit is not header-protected.
    private const byte SpinBit = 0x20;

    // RFC 8999 §5.1: version (4) follows the first byte; then the DCID length byte.
    private const int LongHeaderDcidLengthOffset = 5;

    private PacketHeader(
        QuicPacketType type,
        byte firstByte,
        uint version,
        int destinationConnectionIdOffset,
        int destinationConnectionIdLength,
        int sourceConnectionIdOffset,
        int sourceConnectionIdLength,
        int tokenOffset,
        int tokenLength,
        int lengthField,
        int packetNumberOffset,
        int packetLength)
    {
        Type = type;
        FirstByte = firstByte;
        Version = version;
        DestinationConnectionIdOffset = destinationConnectionIdOffset;
        DestinationConnectionIdLength = destinationConnectionIdLength;
        SourceConnectionIdOffset = sourceConnectionIdOffset;
        SourceConnectionIdLength = sourceConnectionIdLength;
        TokenOffset = tokenOffset;
        TokenLength = tokenLength;
        LengthField = lengthField;
        PacketNumberOffset = packetNumberOffset;
        PacketLength = packetLength;
    }

    public QuicPacketType Type { get; }

    /// <summary>RFC 8999 §5.1: header form bit set.</summary>
    public bool IsLongHeader => Type != QuicPacketType.OneRtt;

    /// <summary>The first byte as received; its low bits are still header-protected for packets that carry a packet number.</summary>
    public byte FirstByte { get; }

    /// <summary>RFC 8999 §5.1 version field; 0 for short-header packets, which carry no version.</summary>
    public uint Version { get; }

    public int DestinationConnectionIdOffset { get; }

    public int DestinationConnectionIdLength { get; }

    /// <summary>Zero for short-header packets, which carry no source connection ID.</summary>
    public int SourceConnectionIdOffset { get; }

    public int SourceConnectionIdLength { get; }

    /// <summary>Initial: the Token field (RFC 9000 §17.2.2). Retry: the Retry Token (§17.2.5). Otherwise 0/0.</summary>
    public int TokenOffset { get; }

    public int TokenLength { get; }

    /// <summary>
    /// Initial, 0-RTT and Handshake: the Length field, i.e. the byte count of the packet number and the
    /// protected payload (RFC 9000 §17.2). Already checked to fit inside the datagram. Otherwise 0.
    /// </summary>
    public int LengthField { get; }

    /// <summary>Where the (protected) packet number starts; -1 for Retry, Version Negotiation and unsupported versions.</summary>
    public int PacketNumberOffset { get; }

    /// <summary>
    /// Bytes of this packet inside the datagram (RFC 9000 §12.2): up to the end of the Length field's
    /// span for Initial, 0-RTT and Handshake; the rest of the datagram for every other packet.
    /// </summary>
    public int PacketLength { get; }

    /// <summary>RFC 9000 §17.3.1: the unprotected spin bit of a short header.</summary>
    public bool Spin => Type == QuicPacketType.OneRtt && (FirstByte & SpinBit) != 0;

    /// <summary>Whether the packet carries a packet number and a protected payload.</summary>
    public bool HasPacketNumber => PacketNumberOffset >= 0;

    /// <summary>RFC 9000 §17.2.1: a Version Negotiation packet's version list starts right after the source connection ID.</summary>
    public int SupportedVersionsOffset => SourceConnectionIdOffset + SourceConnectionIdLength;

    public ReadOnlySpan<byte> GetDestinationConnectionId(ReadOnlySpan<byte> packet)
        => packet.Slice(DestinationConnectionIdOffset, DestinationConnectionIdLength);

    public ReadOnlySpan<byte> GetSourceConnectionId(ReadOnlySpan<byte> packet)
        => packet.Slice(SourceConnectionIdOffset, SourceConnectionIdLength);

    public ReadOnlySpan<byte> GetToken(ReadOnlySpan<byte> packet) => packet.Slice(TokenOffset, TokenLength);

    /// <summary>
    /// Parses the header of the packet at the start of <paramref name="datagram"/> with the RFC 9000
    /// fixed-bit rule. False means "drop this packet" (and, when it is not the first packet of a
    /// datagram, the rest of the datagram: its boundary is unknown). <paramref name="shortHeaderDcidLength"/>
    /// is the length of the connection IDs this endpoint issues, 0 to 20: a short header does not
    /// encode it (RFC 9000 §17.3.1).
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> datagram, int shortHeaderDcidLength, out PacketHeader header)
        => TryParse(datagram, shortHeaderDcidLength, acceptClearedFixedBit: false, out header);

    /// <summary>
    /// As the other overload; with <paramref name="acceptClearedFixedBit"/> set (RFC 9287 §3: this
    /// endpoint advertised grease_quic_bit) packets with a cleared fixed bit are not dropped for it.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> datagram, int shortHeaderDcidLength, bool acceptClearedFixedBit, out PacketHeader header)
    {
        if ((uint)shortHeaderDcidLength > ConnectionId.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(shortHeaderDcidLength), shortHeaderDcidLength, "Local connection IDs are 0 to 20 bytes.");
        }

        header = default;
        if (datagram.IsEmpty)
        {
            return false;
        }

        byte first = datagram[0];
        return (first & HeaderFormBit) != 0
            ? TryParseLong(datagram, acceptClearedFixedBit, out header)
            : TryParseShort(datagram, shortHeaderDcidLength, acceptClearedFixedBit, out header);
    }

    /// <summary>
    /// Routing fast path: the destination connection ID of the first packet of a datagram, using only
    /// the RFC 8999 invariants (so it also works for versions this stack does not speak, whose IDs may
    /// be up to 255 bytes).
    /// </summary>
    public static bool TryReadDestinationConnectionId(ReadOnlySpan<byte> datagram, int shortHeaderDcidLength, out ReadOnlySpan<byte> destinationConnectionId)
    {
        destinationConnectionId = default;
        if (datagram.IsEmpty)
        {
            return false;
        }

        if ((datagram[0] & HeaderFormBit) == 0)
        {
            // RFC 8999 §5.2: short header, the DCID directly follows the first byte.
            if (datagram.Length < 1 + shortHeaderDcidLength)
            {
                return false;
            }

            destinationConnectionId = datagram.Slice(1, shortHeaderDcidLength);
            return true;
        }

        if (datagram.Length <= LongHeaderDcidLengthOffset)
        {
            return false;
        }

        int length = datagram[LongHeaderDcidLengthOffset];
        if (datagram.Length < LongHeaderDcidLengthOffset + 1 + length)
        {
            return false;
        }

        destinationConnectionId = datagram.Slice(LongHeaderDcidLengthOffset + 1, length);
        return true;
    }

    private static bool TryParseShort(ReadOnlySpan<byte> datagram, int dcidLength, bool acceptClearedFixedBit, out PacketHeader header)
    {
        header = default;

        // RFC 9000 §17.3.1: packets with the fixed bit cleared are not valid in version 1 and are discarded.
        if ((datagram[0] & FixedBit) == 0 && !acceptClearedFixedBit)
        {
            return false;
        }

        // RFC 9000 §17.3.1: first byte, DCID, then at least one packet number byte.
        int packetNumberOffset = 1 + dcidLength;
        if (datagram.Length <= packetNumberOffset)
        {
            return false;
        }

        header = new PacketHeader(
            QuicPacketType.OneRtt,
            datagram[0],
            version: 0,
            destinationConnectionIdOffset: 1,
            destinationConnectionIdLength: dcidLength,
            sourceConnectionIdOffset: 0,
            sourceConnectionIdLength: 0,
            tokenOffset: 0,
            tokenLength: 0,
            lengthField: 0,
            packetNumberOffset,
            packetLength: datagram.Length);
        return true;
    }

    private static bool TryParseLong(ReadOnlySpan<byte> datagram, bool acceptClearedFixedBit, out PacketHeader header)
    {
        header = default;
        byte first = datagram[0];

        // RFC 8999 §5.1: first byte, 32-bit version, DCID length + DCID, SCID length + SCID.
        if (datagram.Length < LongHeaderDcidLengthOffset + 1)
        {
            return false;
        }

        uint version = BinaryPrimitives.ReadUInt32BigEndian(datagram[1..]);
        int dcidOffset = LongHeaderDcidLengthOffset + 1;
        int dcidLength = datagram[LongHeaderDcidLengthOffset];
        int scidLengthOffset = dcidOffset + dcidLength;
        if (datagram.Length <= scidLengthOffset)
        {
            return false;
        }

        int scidOffset = scidLengthOffset + 1;
        int scidLength = datagram[scidLengthOffset];
        int afterScid = scidOffset + scidLength;
        if (datagram.Length < afterScid)
        {
            return false;
        }

        if (version == QuicVersion.Negotiation)
        {
            // RFC 8999 §6: the rest is a list of 32-bit versions; anything else is malformed. The CIDs
            // echo the client's and may be up to 255 bytes for versions other than 1 (RFC 8999 §5.1).
            int listLength = datagram.Length - afterScid;
            if (listLength % 4 != 0)
            {
                return false;
            }

            header = new PacketHeader(
                QuicPacketType.VersionNegotiation, first, version, dcidOffset, dcidLength, scidOffset, scidLength,
                tokenOffset: 0, tokenLength: 0, lengthField: 0, packetNumberOffset: -1, packetLength: datagram.Length);
            return true;
        }

        if (version != QuicVersion.Version1)
        {
            // RFC 8999 §5.1: for unknown versions only the invariants are known; the packet cannot be
            // delimited, so it spans the rest of the datagram (the endpoint may answer with Version
            // Negotiation, RFC 9000 §6.1).
            header = new PacketHeader(
                QuicPacketType.UnsupportedVersion, first, version, dcidOffset, dcidLength, scidOffset, scidLength,
                tokenOffset: 0, tokenLength: 0, lengthField: 0, packetNumberOffset: -1, packetLength: datagram.Length);
            return true;
        }

        // RFC 9000 §17.2: version 1 connection IDs are at most 20 bytes; longer ones mean "drop".
        if (dcidLength > ConnectionId.MaxLength || scidLength > ConnectionId.MaxLength)
        {
            return false;
        }

        // RFC 9000 §17.2: a cleared fixed bit makes the packet invalid unless greased (RFC 9287 §3).
        if ((first & FixedBit) == 0 && !acceptClearedFixedBit)
        {
            return false;
        }

        // RFC 9000 §17.2: bits 0x30 hold the long packet type.
        var type = (QuicPacketType)((first >> 4) & 0x03);
        if (type == QuicPacketType.Retry)
        {
            // RFC 9000 §17.2.5: Retry Token fills the packet up to the 128-bit integrity tag. A Retry
            // has no Length field, so it ends the datagram. §17.2.5.2: a client discards a Retry with
            // an empty token, and no other receiver accepts a Retry at all.
            int tokenLength = datagram.Length - afterScid - RetryPacket.IntegrityTagLength;
            if (tokenLength <= 0)
            {
                return false;
            }

            header = new PacketHeader(
                type, first, version, dcidOffset, dcidLength, scidOffset, scidLength,
                tokenOffset: afterScid, tokenLength, lengthField: 0, packetNumberOffset: -1, packetLength: datagram.Length);
            return true;
        }

        int position = afterScid;
        int tokenOffset = 0;
        int tokenLen = 0;
        if (type == QuicPacketType.Initial)
        {
            // RFC 9000 §17.2.2: Token Length (i) and Token.
            if (!QuicVarInt.TryRead(datagram[position..], out ulong announcedTokenLength, out int tokenLengthSize))
            {
                return false;
            }

            position += tokenLengthSize;
            if (announcedTokenLength > (ulong)(datagram.Length - position))
            {
                return false;
            }

            tokenOffset = position;
            tokenLen = (int)announcedTokenLength;
            position += tokenLen;
        }

        // RFC 9000 §17.2: Length (i) covers the packet number and the payload; a Length running past
        // the datagram means the packet is truncated or malformed, and it is dropped.
        if (!QuicVarInt.TryRead(datagram[position..], out ulong length, out int lengthSize))
        {
            return false;
        }

        position += lengthSize;
        if (length == 0 || length > (ulong)(datagram.Length - position))
        {
            // A packet number takes at least one byte, so a zero Length cannot be valid either.
            return false;
        }

        header = new PacketHeader(
            type, first, version, dcidOffset, dcidLength, scidOffset, scidLength,
            tokenOffset, tokenLen, lengthField: (int)length, packetNumberOffset: position, packetLength: position + (int)length);
        return true;
    }
}
