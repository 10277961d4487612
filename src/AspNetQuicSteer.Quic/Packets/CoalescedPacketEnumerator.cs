namespace AspNetQuicSteer.Quic.Packets;

/// <summary>One packet of a datagram: where it starts, its bytes and its parsed header.</summary>
internal readonly ref struct CoalescedPacket
{
    public CoalescedPacket(int offset, ReadOnlySpan<byte> bytes, PacketHeader header)
    {
        Offset = offset;
        Bytes = bytes;
        Header = header;
    }

    /// <summary>Offset of the packet's first byte inside the datagram.</summary>
    public int Offset { get; }

    /// <summary>Exactly the packet's bytes (<see cref="PacketHeader.PacketLength"/> of them); header offsets are relative to this span.</summary>
    public ReadOnlySpan<byte> Bytes { get; }

    public PacketHeader Header { get; }
}

/// <summary>
/// Walks the packets coalesced into one UDP datagram (RFC 9000 §12.2) without allocating: each
/// Initial, 0-RTT or Handshake packet ends where its Length field says, and any other packet takes the
/// rest of the datagram. Use with <c>foreach</c>.
/// </summary>
internal ref struct CoalescedPacketEnumerator
{
    private readonly ReadOnlySpan<byte> _datagram;
    private readonly int _shortHeaderDcidLength;
    private readonly bool _acceptClearedFixedBit;
    private ReadOnlySpan<byte> _firstDestinationConnectionId;
    private int _position;
    private bool _seenFirst;
    private CoalescedPacket _current;

    public CoalescedPacketEnumerator(ReadOnlySpan<byte> datagram, int shortHeaderDcidLength, bool acceptClearedFixedBit = false)
    {
        _datagram = datagram;
        _shortHeaderDcidLength = shortHeaderDcidLength;
        _acceptClearedFixedBit = acceptClearedFixedBit;
        _firstDestinationConnectionId = default;
        _position = 0;
        _seenFirst = false;
        _current = default;
    }

    public readonly CoalescedPacket Current => _current;

    /// <summary>
    /// Bytes at the end of the datagram that were not returned as packets because a header failed to
    /// parse (their boundaries are unknown, so they are all dropped). Valid once MoveNext returned false.
    /// </summary>
    public readonly int UnparsedTrailingBytes => _datagram.Length - _position;

    public readonly CoalescedPacketEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        while (_position < _datagram.Length)
        {
            ReadOnlySpan<byte> rest = _datagram[_position..];
            if (!PacketHeader.TryParse(rest, _shortHeaderDcidLength, _acceptClearedFixedBit, out PacketHeader header))
            {
                return false;
            }

            int offset = _position;
            ReadOnlySpan<byte> packet = rest[..header.PacketLength];
            _position += header.PacketLength;

            ReadOnlySpan<byte> dcid = header.GetDestinationConnectionId(packet);
            if (!_seenFirst)
            {
                _seenFirst = true;
                _firstDestinationConnectionId = dcid;
            }
            else if (!dcid.SequenceEqual(_firstDestinationConnectionId))
            {
                // RFC 9000 §12.2: receivers SHOULD ignore subsequent packets whose DCID differs from
                // the first packet's; senders must not coalesce packets of different connections.
                continue;
            }

            _current = new CoalescedPacket(offset, packet, header);
            return true;
        }

        return false;
    }
}
