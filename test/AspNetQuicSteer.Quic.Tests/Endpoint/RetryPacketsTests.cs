using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Endpoint.Stateless;
using AspNetQuicSteer.Quic.Packets;
using AspNetQuicSteer.Quic.Tests.Packets;
using AspNetQuicSteer.Quic.Wire;
using static AspNetQuicSteer.Quic.Tests.Endpoint.StatelessTestData;

namespace AspNetQuicSteer.Quic.Tests.Endpoint;

public sealed class RetryPacketsTests : IDisposable
{
    private static readonly byte[] ClientScid = Convert.FromHexString("c1c2c3c4c5");

    private readonly AddressValidationTokenProtector _tokens = new(new StatelessKeyRing(Secret(0)));

    public void Dispose() => _tokens.Dispose();

    /// <summary>A client Initial datagram (padded to 1200 bytes, RFC 9000 §14.1) with the given IDs.</summary>
    internal static byte[] ClientInitial(ReadOnlySpan<byte> dcid, ReadOnlySpan<byte> scid, byte firstByte = 0xC3)
    {
        byte[] datagram = new byte[1200];
        var writer = new QuicWriter(datagram);
        writer.WriteByte(firstByte);
        uint version = QuicConnection.Version1;
        writer.WriteUInt32(version);
        writer.WriteByte((byte)dcid.Length);
        writer.WriteBytes(dcid);
        writer.WriteByte((byte)scid.Length);
        writer.WriteBytes(scid);
        if ((firstByte & 0x30) == 0)
        {
            writer.WriteVarInt(0); // Initial: no token
        }

        writer.WriteVarInt((ulong)(writer.Remaining - 2), 2);
        return datagram;
    }

    [Fact]
    public void RfcA4RetryValidatesOnTheClient()
    {
        // RFC 9001 A.4: the Retry answering the A.2 Initial (ODCID 8394c8f03e515708, empty client SCID).
        byte[] retry = Convert.FromHexString(Crypto.Rfc9001Vectors.RetryPacket);
        Assert.True(PacketHeader.TryParse(retry, 0, out PacketHeader header));
        Assert.Equal(RetryValidationResult.Valid, RetryPackets.Validate(retry, header, 1, OriginalDcid, []));
        Assert.Equal(RetryValidationResult.InvalidIntegrityTag, RetryPackets.Validate(retry, header, 1, RetryScid.Reverse().ToArray(), []));
        Assert.Equal(RetryValidationResult.WrongVersion, RetryPackets.Validate(retry, header, 2, OriginalDcid, []));
        Assert.Equal(RetryValidationResult.WrongDestinationConnectionId, RetryPackets.Validate(retry, header, 1, OriginalDcid, ClientScid));
    }

    [Fact]
    public void BuildParseVerifyRoundTrip()
    {
        byte[] initial = ClientInitial(OriginalDcid, ClientScid);
        Assert.True(PacketHeader.TryParse(initial, 8, out PacketHeader initialHeader));
        var ids = new RandomConnectionIdGenerator(8);
        byte[] buffer = new byte[RetryPackets.MaxLength];
        Assert.True(RetryPackets.TryWrite(_tokens, ids, Client, initial, initialHeader, Now, buffer, out int length, out ConnectionId rscid));
        byte[] retry = buffer[..length];

        // RFC 9000 §17.2.5: a Retry echoes the version; DCID = client SCID; SCID = new server ID; token; tag.
        Assert.True(PacketHeader.TryParse(retry, 0, out PacketHeader header));
        Assert.Equal(QuicPacketType.Retry, header.Type);
        Assert.Equal(QuicConnection.Version1, header.Version);
        Assert.Equal(0xF0, retry[0] & 0xF0);
        Assert.True(header.GetDestinationConnectionId(retry).SequenceEqual(ClientScid));
        Assert.True(rscid.Equals(header.GetSourceConnectionId(retry)));
        Assert.Equal(8, rscid.Length);
        Assert.False(rscid.Equals(OriginalDcid));

        // RFC 9001 §5.8: the tag verifies with the ODCID, and with nothing else.
        Assert.True(RetryIntegrity.Verify(OriginalDcid, retry));
        Assert.False(RetryIntegrity.Verify(rscid.Span, retry));
        Assert.Equal(RetryValidationResult.Valid, RetryPackets.Validate(retry, header, QuicConnection.Version1, OriginalDcid, ClientScid));

        // The client echoes the token in its next Initial, sent to the Retry SCID (RFC 9000 §8.1.2, §7.2).
        AddressTokenValidation validation = _tokens.Validate(header.GetToken(retry), Client, rscid.Span, Now.AddMilliseconds(50));
        Assert.Equal(AddressTokenValidationResult.Valid, validation.Result);
        Assert.Equal(AddressTokenKind.Retry, validation.Kind);
        Assert.True(validation.OriginalDestinationConnectionId.Equals(OriginalDcid));
        Assert.True(validation.RetrySourceConnectionId.Equals(rscid));
    }

    [Fact]
    public void EveryBitFlipOfABuiltRetryIsDiscarded()
    {
        byte[] initial = ClientInitial(OriginalDcid, ClientScid);
        Assert.True(PacketHeader.TryParse(initial, 8, out PacketHeader initialHeader));
        byte[] buffer = new byte[RetryPackets.MaxLength];
        Assert.True(RetryPackets.TryWrite(_tokens, new RandomConnectionIdGenerator(8), Client, initial, initialHeader, Now, buffer, out int length, out _));
        for (int bit = 8; bit < length * 8; bit++) // the first byte's low nibble is unused but authenticated too
        {
            byte[] mutated = buffer[..length];
            mutated[bit / 8] ^= (byte)(1 << (bit % 8));
            if (PacketHeader.TryParse(mutated, 0, out PacketHeader header))
            {
                Assert.NotEqual(RetryValidationResult.Valid, RetryPackets.Validate(mutated, header, QuicConnection.Version1, OriginalDcid, ClientScid));
            }
        }
    }

    [Fact]
    public void ClientDiscardsARetryWhoseScidIsItsOriginalDcid()
    {
        // RFC 9000 §17.2.5.2: such a Retry is discarded even with a valid tag.
        byte[] retry = new byte[100];
        var writer = new QuicWriter(retry);
        RetryPacket.WriteWithoutIntegrityTag(ref writer, 1, ClientScid, OriginalDcid, [1, 2, 3]);
        int withoutTag = writer.Position;
        RetryIntegrity.ComputeTag(OriginalDcid, retry.AsSpan(0, withoutTag), retry.AsSpan(withoutTag));
        retry = retry[..(withoutTag + 16)];
        Assert.True(PacketHeader.TryParse(retry, 0, out PacketHeader header));
        Assert.True(RetryIntegrity.Verify(OriginalDcid, retry));
        Assert.Equal(RetryValidationResult.SourceEqualsOriginalDestination, RetryPackets.Validate(retry, header, 1, OriginalDcid, ClientScid));
    }

    [Fact]
    public void ValidateRejectsNonRetryHeaders()
    {
        byte[] initial = ClientInitial(OriginalDcid, ClientScid);
        Assert.True(PacketHeader.TryParse(initial, 8, out PacketHeader header));
        Assert.Equal(RetryValidationResult.NotRetry, RetryPackets.Validate(initial, header, 1, OriginalDcid, ClientScid));
        Assert.Equal(RetryValidationResult.NotRetry, RetryPackets.Validate(initial, default, 1, OriginalDcid, ClientScid));
    }

    [Fact]
    public void ServerNeverUsesTheOriginalDcidAsRetryScid()
    {
        // RFC 9000 §17.2.5.1: the Retry SCID MUST NOT equal the client's DCID; a generator that only yields it fails.
        byte[] initial = ClientInitial(OriginalDcid, ClientScid);
        Assert.True(PacketHeader.TryParse(initial, 8, out PacketHeader header));
        byte[] buffer = new byte[RetryPackets.MaxLength];
        Assert.False(RetryPackets.TryWrite(_tokens, new FixedGenerator(OriginalDcid), Client, initial, header, Now, buffer, out int length, out _));
        Assert.Equal(0, length);
        Assert.Throws<ArgumentException>(() => RetryPackets.Write(_tokens, Client, 1, OriginalDcid, ClientScid, OriginalDcid, Now, buffer));
    }

    [Fact]
    public void ServerDoesNotRetryWhatIsNotAVersion1Initial()
    {
        byte[] buffer = new byte[RetryPackets.MaxLength];
        var ids = new RandomConnectionIdGenerator(8);
        byte[] handshake = ClientInitial(OriginalDcid, ClientScid, firstByte: 0xE3); // Handshake packet type
        Assert.True(PacketHeader.TryParse(handshake, 8, out PacketHeader header));
        Assert.False(RetryPackets.TryWrite(_tokens, ids, Client, handshake, header, Now, buffer, out _, out _));

        byte[] initial = ClientInitial(OriginalDcid, ClientScid);
        Assert.True(PacketHeader.TryParse(initial, 8, out header));
        Assert.False(RetryPackets.TryWrite(_tokens, ids, default, initial, header, Now, buffer, out _, out _));
    }

    [Fact]
    public void MaxLengthFitsTheLongestRetry()
    {
        byte[] twenty = Enumerable.Range(0, 20).Select(i => (byte)i).ToArray();
        byte[] initial = ClientInitial(twenty, twenty.Reverse().ToArray());
        Assert.True(PacketHeader.TryParse(initial, 8, out PacketHeader header));
        byte[] buffer = new byte[RetryPackets.MaxLength];
        Assert.True(RetryPackets.TryWrite(_tokens, new RandomConnectionIdGenerator(20), ClientV6, initial, header, Now, buffer, out int length, out _));
        Assert.Equal(RetryPackets.MaxLength, length);
    }

    private sealed class FixedGenerator(byte[] id) : IConnectionIdGenerator
    {
        public int ConnectionIdLength => id.Length;

        public ConnectionId Generate() => new(id);

        public bool Validate(ReadOnlySpan<byte> connectionId) => connectionId.Length == id.Length;
    }
}
