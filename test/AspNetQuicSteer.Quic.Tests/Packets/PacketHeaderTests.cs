using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Frames;
using AspNetQuicSteer.Quic.Packets;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Tests.Packets;

public sealed class PacketHeaderTests
{
    private const int LocalCidLength = 8;

    [Fact]
    public void ParsesRfc9001AppendixA2ClientInitialHeader()
    {
        byte[] datagram = RfcVectors.ClientInitialDatagram();

        Assert.True(PacketHeader.TryParse(datagram, LocalCidLength, out PacketHeader header));
        Assert.Equal(QuicPacketType.Initial, header.Type);
        Assert.True(header.IsLongHeader);
        Assert.Equal(QuicVersion.Version1, header.Version);
        Assert.Equal("8394c8f03e515708", Convert.ToHexStringLower(header.GetDestinationConnectionId(datagram)));
        Assert.Equal(0, header.SourceConnectionIdLength);
        Assert.Equal(0, header.TokenLength);
        Assert.Equal(1182, header.LengthField);      // RFC 9001 §A.2: 4-byte PN + 1162 payload + 16 tag
        Assert.Equal(18, header.PacketNumberOffset);  // RFC 9001 §A.2: header[18..21] is the packet number
        Assert.Equal(1200, header.PacketLength);

        // RFC 9000 §17.2: 0xc3's low bits give a 4-byte packet number; its value is 2.
        int pnLength = PacketNumber.GetLengthFromFirstByte(datagram[0]);
        Assert.Equal(4, pnLength);
        uint truncated = PacketNumber.ReadTruncated(datagram.AsSpan(header.PacketNumberOffset), pnLength);
        Assert.Equal(2UL, PacketNumber.Decode(truncated, pnLength, largestProcessed: null));
    }

    [Fact]
    public void ParsesTheCryptoFrameAtTheStartOfTheRfc9001AppendixA2Payload()
    {
        byte[] datagram = RfcVectors.ClientInitialDatagram();
        ReadOnlySpan<byte> payload = datagram.AsSpan(22, 1162);
        var frames = new FrameReader(payload, EncryptionLevel.Initial, datagramFramesAccepted: false);

        Assert.True(frames.TryReadFrameType(out ulong type));
        Assert.Equal((ulong)FrameType.Crypto, type);
        CryptoFrame crypto = CryptoFrame.Parse(ref frames.Reader, type);
        Assert.Equal(0UL, crypto.Offset);
        Assert.Equal(0xf1, crypto.Data.Length);
        Assert.Equal("010000ed0303ebf8", Convert.ToHexStringLower(crypto.Data[..8])); // ClientHello, legacy_version 0x0303

        // The rest is PADDING up to 1162 bytes (RFC 9001 §A.2), consumed as a single run.
        Assert.True(frames.TryReadFrameType(out type));
        Assert.Equal((ulong)FrameType.Padding, type);
        Assert.Equal(1162 - 245, PaddingFrame.Parse(ref frames.Reader, type).Length);
        Assert.False(frames.TryReadFrameType(out _));
        Assert.True(frames.IsAckEliciting);
    }

    [Fact]
    public void ParsesRfc9001AppendixA3ServerInitialHeaderAndPayload()
    {
        byte[] datagram = RfcVectors.ServerInitialDatagram();

        Assert.True(PacketHeader.TryParse(datagram, LocalCidLength, out PacketHeader header));
        Assert.Equal(QuicPacketType.Initial, header.Type);
        Assert.Equal(0, header.DestinationConnectionIdLength);
        Assert.Equal("f067a5502a4262b5", Convert.ToHexStringLower(header.GetSourceConnectionId(datagram)));
        Assert.Equal(0, header.TokenLength);
        Assert.Equal(0x75, header.LengthField);
        Assert.Equal(18, header.PacketNumberOffset);
        Assert.Equal(datagram.Length, header.PacketLength);
        Assert.Equal(2, PacketNumber.GetLengthFromFirstByte(datagram[0]));
        Assert.Equal(1u, PacketNumber.ReadTruncated(datagram.AsSpan(18), 2));

        // RFC 9001 §A.3: "an ACK frame, a CRYPTO frame, and no PADDING frames".
        var frames = new FrameReader(datagram.AsSpan(20, header.LengthField - 2 - 16), EncryptionLevel.Initial, datagramFramesAccepted: false);
        Assert.True(frames.TryReadFrameType(out ulong type));
        AckFrame ack = AckFrame.Parse(ref frames.Reader, type);
        Assert.Equal(0UL, ack.LargestAcknowledged);
        Assert.Equal(0UL, ack.FirstAckRange);
        Assert.True(frames.TryReadFrameType(out type));
        CryptoFrame crypto = CryptoFrame.Parse(ref frames.Reader, type);
        Assert.Equal(0x5a, crypto.Data.Length);
        Assert.Equal(0x02, crypto.Data[0]); // ServerHello
        Assert.False(frames.TryReadFrameType(out _));
        Assert.True(frames.IsAckEliciting);
    }

    [Fact]
    public void ParsesRfc9001AppendixA4RetryStructure()
    {
        byte[] retry = Convert.FromHexString(RfcVectors.Retry);

        Assert.True(PacketHeader.TryParse(retry, LocalCidLength, out PacketHeader header));
        Assert.Equal(QuicPacketType.Retry, header.Type);
        Assert.Equal(0, header.DestinationConnectionIdLength);
        Assert.Equal("f067a5502a4262b5", Convert.ToHexStringLower(header.GetSourceConnectionId(retry)));
        Assert.Equal("token", System.Text.Encoding.ASCII.GetString(header.GetToken(retry)));
        Assert.Equal("04a265ba2eff4d829058fb3f0f2496ba", Convert.ToHexStringLower(RetryPacket.GetIntegrityTag(retry, header)));
        Assert.False(header.HasPacketNumber);
        Assert.Equal(retry.Length, header.PacketLength);
    }

    [Fact]
    public void RetryWriterReproducesRfc9001AppendixA4AndItsPseudoPacket()
    {
        byte[] rfc = Convert.FromHexString(RfcVectors.Retry);
        var buffer = new byte[64];
        var writer = new QuicWriter(buffer);
        RetryPacket.WriteWithoutIntegrityTag(
            ref writer, QuicVersion.Version1, [], Convert.FromHexString("f067a5502a4262b5"), "token"u8, unusedBits: 0x0f);
        Assert.Equal(Convert.ToHexStringLower(rfc[..^16]), Convert.ToHexStringLower(writer.Written));

        // RFC 9001 §5.8: ODCID length, ODCID (the A.2 client's 8394c8f03e515708), then the Retry without tag.
        Assert.True(PacketHeader.TryParse(rfc, LocalCidLength, out PacketHeader header));
        ReadOnlySpan<byte> withoutTag = RetryPacket.GetPacketWithoutIntegrityTag(rfc, header);
        var pseudo = new byte[RetryPacket.GetPseudoPacketLength(8, withoutTag.Length)];
        int written = RetryPacket.WritePseudoPacket(pseudo, Convert.FromHexString("8394c8f03e515708"), withoutTag);
        Assert.Equal(pseudo.Length, written);
        Assert.Equal("088394c8f03e515708" + Convert.ToHexStringLower(rfc[..^16]), Convert.ToHexStringLower(pseudo));
    }

    [Theory]
    [InlineData(0, "abcdef", 1)] // Initial
    [InlineData(0, "", 4)]
    [InlineData(1, "", 2)]       // 0-RTT
    [InlineData(2, "", 3)]       // Handshake
    public void LongHeaderWriterOutputParsesBackWithPatchedLength(int longPacketType, string tokenHex, int pnLength)
    {
        var type = (QuicPacketType)longPacketType;
        byte[] dcid = Convert.FromHexString("0102030405060708");
        byte[] scid = Convert.FromHexString("a1a2a3a4");
        byte[] token = Convert.FromHexString(tokenHex);
        var buffer = new byte[200];
        var writer = new QuicWriter(buffer);
        LongHeaderLayout layout = LongHeaderWriter.Write(ref writer, type, QuicVersion.Version1, dcid, scid, token, 0x1234_5678, pnLength);
        Assert.Equal(LongHeaderWriter.GetHeaderLength(type, dcid.Length, scid.Length, token.Length, pnLength), writer.Position);
        writer.Reserve(50);                       // payload
        int packetEnd = writer.Position + 16;     // AEAD tag appended by protection
        LongHeaderWriter.PatchLength(buffer, layout, packetEnd);

        Assert.True(PacketHeader.TryParse(buffer.AsSpan(0, packetEnd), LocalCidLength, out PacketHeader header));
        Assert.Equal(type, header.Type);
        Assert.Equal(dcid, header.GetDestinationConnectionId(buffer).ToArray());
        Assert.Equal(scid, header.GetSourceConnectionId(buffer).ToArray());
        Assert.Equal(token, header.GetToken(buffer).ToArray());
        Assert.Equal(layout.PacketNumberOffset, header.PacketNumberOffset);
        Assert.Equal(packetEnd, header.PacketLength);
        Assert.Equal(pnLength + 50 + 16, header.LengthField);
        Assert.Equal(pnLength, PacketNumber.GetLengthFromFirstByte(buffer[0]));
        Assert.Equal(0x1234_5678UL & ((1UL << (8 * pnLength)) - 1), PacketNumber.ReadTruncated(buffer.AsSpan(layout.PacketNumberOffset), pnLength));
    }

    [Theory]
    [InlineData(false, false, 1)]
    [InlineData(true, true, 4)]
    public void ShortHeaderWriterOutputParsesBack(bool spin, bool keyPhase, int pnLength)
    {
        byte[] dcid = Convert.FromHexString("0102030405060708");
        var buffer = new byte[64];
        var writer = new QuicWriter(buffer);
        int pnOffset = ShortHeaderWriter.Write(ref writer, dcid, 7, pnLength, spin, keyPhase);
        writer.Reserve(20);

        Assert.True(PacketHeader.TryParse(buffer.AsSpan(0, writer.Position), LocalCidLength, out PacketHeader header));
        Assert.Equal(QuicPacketType.OneRtt, header.Type);
        Assert.Equal(pnOffset, header.PacketNumberOffset);
        Assert.Equal(spin, header.Spin);
        Assert.Equal(keyPhase, ShortHeaderWriter.GetKeyPhase(buffer[0]));
        Assert.False(ShortHeaderWriter.HasReservedBitsSet(buffer[0])); // RFC 9000 §17.3.1: reserved bits 0
        Assert.Equal(dcid, header.GetDestinationConnectionId(buffer).ToArray());
        Assert.Equal(writer.Position, header.PacketLength);
    }

    [Fact]
    public void VersionNegotiationEchoesConnectionIdsSwappedAndListsVersions()
    {
        // RFC 9000 §17.2.1: the server's DCID is the client's SCID and vice versa; first byte has 0x80 set.
        byte[] clientDcid = Convert.FromHexString("1111111111111111111111111111111111111111111111"); // 23 bytes: unknown versions allow > 20
        byte[] clientScid = Convert.FromHexString("2222");
        var buffer = new byte[VersionNegotiationPacket.GetLength(clientScid.Length, clientDcid.Length, 2)];
        var writer = new QuicWriter(buffer);
        VersionNegotiationPacket.Write(ref writer, randomBits: 0x15, clientDcid, clientScid, [QuicVersion.Version1, 0x1a2a3a4a]);
        Assert.Equal(buffer.Length, writer.Position);
        Assert.Equal(0x80, buffer[0] & 0x80);

        Assert.True(PacketHeader.TryParse(buffer, LocalCidLength, out PacketHeader header));
        Assert.Equal(QuicPacketType.VersionNegotiation, header.Type);
        Assert.Equal(clientScid, header.GetDestinationConnectionId(buffer).ToArray());
        Assert.Equal(clientDcid, header.GetSourceConnectionId(buffer).ToArray());
        var versions = new List<uint>();
        foreach (uint version in VersionNegotiationPacket.GetSupportedVersions(buffer, header))
        {
            versions.Add(version);
        }

        Assert.Equal([QuicVersion.Version1, 0x1a2a3a4au], versions);
        Assert.True(VersionNegotiationPacket.GetSupportedVersions(buffer, header).Contains(0x1a2a3a4a));
        Assert.False(VersionNegotiationPacket.GetSupportedVersions(buffer, header).Contains(2));
    }

    [Fact]
    public void UnknownVersionParsesOnlyInvariantFieldsWithLongConnectionIds()
    {
        // RFC 8999 §5.1: connection IDs of unknown versions can be up to 255 bytes.
        byte[] packet = [0xc0, 0xff, 0x00, 0x00, 0x22, 255, .. new byte[255], 0, .. new byte[900]];
        Assert.True(PacketHeader.TryParse(packet, LocalCidLength, out PacketHeader header));
        Assert.Equal(QuicPacketType.UnsupportedVersion, header.Type);
        Assert.Equal(0xff000022u, header.Version);
        Assert.Equal(255, header.DestinationConnectionIdLength);
        Assert.Equal(packet.Length, header.PacketLength);
        Assert.True(PacketHeader.TryReadDestinationConnectionId(packet, LocalCidLength, out ReadOnlySpan<byte> dcid));
        Assert.Equal(255, dcid.Length);
    }

    [Theory]
    // RFC 9000 §17.2: version 1 DCID longer than 20 bytes → drop.
    [InlineData("c00000000115000000000000000000000000000000000000000000000000")]
    // RFC 9000 §17.2: fixed bit cleared → drop.
    [InlineData("800000000100000100")]
    // RFC 9000 §17.3.1: short header with cleared fixed bit → drop.
    [InlineData("000102030405060708aa")]
    // RFC 9000 §17.2: Length (0x10) larger than the rest of the datagram → drop.
    [InlineData("e00000000100001011")]
    // Length 0 cannot even hold a packet number.
    [InlineData("e0000000010000000000")]
    // Token Length past the end.
    [InlineData("c000000001000005aabb")]
    // Truncated inside the version field.
    [InlineData("c00000")]
    // RFC 9000 §17.2.5: Retry shorter than its 16-byte tag, or with an empty token (§17.2.5.2).
    [InlineData("f0000000010000000102030405060708090a0b0c0d0e0f")]
    [InlineData("f00000000100000102030405060708090a0b0c0d0e0f10")]
    // RFC 8999 §6: Version Negotiation list not a multiple of 4 bytes.
    [InlineData("c000000000000000000001aa")]
    // Short header too short for the local CID plus a packet number byte.
    [InlineData("4001020304050607")]
    [InlineData("")]
    public void DropsMalformedHeaders(string hex)
        => Assert.False(PacketHeader.TryParse(Convert.FromHexString(hex), LocalCidLength, out _));

    [Fact]
    public void ClearedFixedBitIsAcceptedWhenGreaseQuicBitWasAdvertised()
    {
        // RFC 9287 §3.
        byte[] shortHeader = Convert.FromHexString("000102030405060708aa");
        Assert.True(PacketHeader.TryParse(shortHeader, LocalCidLength, acceptClearedFixedBit: true, out PacketHeader header));
        Assert.Equal(QuicPacketType.OneRtt, header.Type);
    }

    [Fact]
    public void CoalescedDatagramYieldsEachPacketAndSkipsForeignConnectionIds()
    {
        byte[] dcid = Convert.FromHexString("0102030405060708");
        var buffer = new byte[400];
        var writer = new QuicWriter(buffer);
        int initialEnd = WriteLong(ref writer, QuicPacketType.Initial, dcid, payload: 30);
        int handshakeEnd = WriteLong(ref writer, QuicPacketType.Handshake, dcid, payload: 40);
        int foreignEnd = WriteLong(ref writer, QuicPacketType.Handshake, Convert.FromHexString("ffffffffffffffff"), payload: 10);
        ShortHeaderWriter.Write(ref writer, dcid, 9, 2, spin: false, keyPhase: false);
        writer.Reserve(25);
        ReadOnlySpan<byte> datagram = writer.Written;

        var seen = new List<(QuicPacketType Type, int Offset, int Length)>();
        foreach (CoalescedPacket packet in new CoalescedPacketEnumerator(datagram, LocalCidLength))
        {
            seen.Add((packet.Header.Type, packet.Offset, packet.Bytes.Length));
        }

        // RFC 9000 §12.2: long headers end at their Length; the short header takes the rest; the packet
        // with a different DCID is ignored.
        Assert.Equal(
            [(QuicPacketType.Initial, 0, initialEnd), (QuicPacketType.Handshake, initialEnd, handshakeEnd - initialEnd), (QuicPacketType.OneRtt, foreignEnd, datagram.Length - foreignEnd)],
            seen);
    }

    [Fact]
    public void CoalescedIterationStopsAtAnUnparsableTail()
    {
        byte[] dcid = Convert.FromHexString("0102030405060708");
        var buffer = new byte[200];
        var writer = new QuicWriter(buffer);
        int end = WriteLong(ref writer, QuicPacketType.Initial, dcid, payload: 30);
        writer.WriteBytes([0x00, 0x00, 0x00]); // zero padding after the packet: fixed bit clear, dropped

        var enumerator = new CoalescedPacketEnumerator(writer.Written, LocalCidLength);
        Assert.True(enumerator.MoveNext());
        Assert.Equal(end, enumerator.Current.Bytes.Length);
        Assert.False(enumerator.MoveNext());
        Assert.Equal(3, enumerator.UnparsedTrailingBytes);
    }

    [Fact]
    public void ReadsDestinationConnectionIdForRouting()
    {
        Assert.True(PacketHeader.TryReadDestinationConnectionId(RfcVectors.ClientInitialDatagram(), LocalCidLength, out ReadOnlySpan<byte> dcid));
        Assert.Equal("8394c8f03e515708", Convert.ToHexStringLower(dcid));
        Assert.True(PacketHeader.TryReadDestinationConnectionId(Convert.FromHexString("400102030405060708aa"), LocalCidLength, out dcid));
        Assert.Equal("0102030405060708", Convert.ToHexStringLower(dcid));
        Assert.False(PacketHeader.TryReadDestinationConnectionId(Convert.FromHexString("c00000000108aabb"), LocalCidLength, out _));
    }

    private static int WriteLong(ref QuicWriter writer, QuicPacketType type, byte[] dcid, int payload)
    {
        LongHeaderLayout layout = LongHeaderWriter.Write(ref writer, type, QuicVersion.Version1, dcid, [0x55], [], 1, 1);
        writer.Reserve(payload);
        LongHeaderWriter.PatchLength(writer.Buffer, layout, writer.Position);
        return writer.Position;
    }
}
