using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Frames;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Tests.Frames;

public sealed class FramePermissionTests
{
    // RFC 9000 §12.4 Table 3 "Pkts" column, one row per type: I, H, 0, 1 (RFC 9221 §4 for DATAGRAM).
    [Theory]
    [InlineData(0x00, "IH01")]
    [InlineData(0x01, "IH01")]
    [InlineData(0x02, "IH_1")]
    [InlineData(0x03, "IH_1")]
    [InlineData(0x04, "__01")]
    [InlineData(0x05, "__01")]
    [InlineData(0x06, "IH_1")]
    [InlineData(0x07, "___1")]
    [InlineData(0x08, "__01")]
    [InlineData(0x0f, "__01")]
    [InlineData(0x10, "__01")]
    [InlineData(0x11, "__01")]
    [InlineData(0x12, "__01")]
    [InlineData(0x13, "__01")]
    [InlineData(0x14, "__01")]
    [InlineData(0x15, "__01")]
    [InlineData(0x16, "__01")]
    [InlineData(0x17, "__01")]
    [InlineData(0x18, "__01")]
    [InlineData(0x19, "__01")]
    [InlineData(0x1a, "__01")]
    [InlineData(0x1b, "___1")]
    [InlineData(0x1c, "IH01")]
    [InlineData(0x1d, "__01")]
    [InlineData(0x1e, "___1")]
    [InlineData(0x30, "__01")]
    [InlineData(0x31, "__01")]
    public void PermissionsFollowTable3(ulong frameType, string pkts)
    {
        Assert.Equal(pkts[0] == 'I', FrameTypes.IsAllowed(frameType, EncryptionLevel.Initial));
        Assert.Equal(pkts[1] == 'H', FrameTypes.IsAllowed(frameType, EncryptionLevel.Handshake));
        Assert.Equal(pkts[2] == '0', FrameTypes.IsAllowed(frameType, EncryptionLevel.ZeroRtt));
        Assert.Equal(pkts[3] == '1', FrameTypes.IsAllowed(frameType, EncryptionLevel.OneRtt));
    }

    // RFC 9000 §13.2.1: only ACK, PADDING and CONNECTION_CLOSE are not ack-eliciting.
    // RFC 9000 §9.1: PATH_CHALLENGE, PATH_RESPONSE, NEW_CONNECTION_ID and PADDING are probing frames.
    [Theory]
    [InlineData(0x00, false, true)]
    [InlineData(0x01, true, false)]
    [InlineData(0x02, false, false)]
    [InlineData(0x03, false, false)]
    [InlineData(0x08, true, false)]
    [InlineData(0x18, true, true)]
    [InlineData(0x1a, true, true)]
    [InlineData(0x1b, true, true)]
    [InlineData(0x1c, false, false)]
    [InlineData(0x1d, false, false)]
    [InlineData(0x1e, true, false)]
    [InlineData(0x30, true, false)]
    public void AckElicitingAndProbingClassification(ulong frameType, bool ackEliciting, bool probing)
    {
        Assert.Equal(ackEliciting, FrameTypes.IsAckEliciting(frameType));
        Assert.Equal(probing, FrameTypes.IsProbing(frameType));
    }

    [Theory]
    [InlineData("1e", 0)]   // HANDSHAKE_DONE in Initial
    [InlineData("020000000000", 1)] // ACK in 0-RTT
    [InlineData("1d0000", 2)]       // application CONNECTION_CLOSE in Handshake
    [InlineData("1a0000000000000000", 0)] // PATH_CHALLENGE in Initial
    public void FrameInAForbiddenPacketTypeIsAProtocolViolation(string hex, int level)
    {
        // RFC 9000 §12.4: a frame in a packet type that does not permit it → PROTOCOL_VIOLATION.
        var frames = new FrameReader(Convert.FromHexString(hex), (EncryptionLevel)level, datagramFramesAccepted: true);
        try
        {
            frames.TryReadFrameType(out _);
            Assert.Fail("Forbidden frame accepted.");
        }
        catch (QuicProtocolException error)
        {
            Assert.Equal(TransportErrorCode.ProtocolViolation, error.ErrorCode);
        }
    }

    [Fact]
    public void ReaderTracksAckElicitingAndProbingOnlyPackets()
    {
        var probing = new FrameReader(Convert.FromHexString("1a0102030405060708" + "00"), EncryptionLevel.OneRtt, false);
        while (probing.TryReadFrameType(out ulong type))
        {
            var sink = new QuicWriter(new byte[64]);
            FrameCodec.ParseAndWrite(ref probing.Reader, type, ref sink);
        }

        Assert.True(probing.IsProbingOnly);
        Assert.True(probing.IsAckEliciting);

        var ackOnly = new FrameReader(Convert.FromHexString("0200000000"), EncryptionLevel.OneRtt, false);
        while (ackOnly.TryReadFrameType(out ulong type))
        {
            var sink = new QuicWriter(new byte[64]);
            FrameCodec.ParseAndWrite(ref ackOnly.Reader, type, ref sink);
        }

        Assert.False(ackOnly.IsProbingOnly);
        Assert.False(ackOnly.IsAckEliciting);
    }
}
