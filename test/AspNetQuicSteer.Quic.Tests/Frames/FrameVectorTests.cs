using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Frames;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Tests.Frames;

public sealed class FrameVectorTests
{
    // Hand-made minimal encodings of every RFC 9000 §19 frame type and RFC 9221 DATAGRAM; each must
    // parse and re-encode to the same bytes.
    [Theory]
    [InlineData("000000")]                                   // §19.1 PADDING ×3
    [InlineData("01")]                                       // §19.2 PING
    [InlineData("020a03010200" + "01")]                      // §19.3 ACK: [8,10] then gap 0 → [5,6]
    [InlineData("030a030002" + "010203")]                    // §19.3.2 ACK_ECN with ECT0/ECT1/CE
    [InlineData("0404410005")]                               // §19.4 RESET_STREAM stream 4, error 0x100, final size 5
    [InlineData("05080c")]                                   // §19.5 STOP_SENDING
    [InlineData("060003aabbcc")]                             // §19.6 CRYPTO
    [InlineData("0702beef")]                                 // §19.7 NEW_TOKEN
    [InlineData("08046869")]                                 // §19.8 STREAM, no OFF/LEN/FIN: data to end
    [InlineData("0b04026869")]                               // §19.8 STREAM LEN|FIN
    [InlineData("0f044064026869")]                           // §19.8 STREAM OFF|LEN|FIN, offset 100
    [InlineData("0e04050268690c04076869")]                   // §19.8 OFF|LEN then OFF-only running to the end
    [InlineData("104400")]                                   // §19.9 MAX_DATA 1024
    [InlineData("11044400")]                                 // §19.10 MAX_STREAM_DATA
    [InlineData("120a")]                                     // §19.11 MAX_STREAMS bidi
    [InlineData("130b")]                                     // §19.11 MAX_STREAMS uni
    [InlineData("144400")]                                   // §19.12 DATA_BLOCKED
    [InlineData("15044400")]                                 // §19.13 STREAM_DATA_BLOCKED
    [InlineData("160a")]                                     // §19.14 STREAMS_BLOCKED bidi
    [InlineData("170b")]                                     // §19.14 STREAMS_BLOCKED uni
    [InlineData("1802010401020304000102030405060708090a0b0c0d0e0f")] // §19.15 NEW_CONNECTION_ID seq 2, retire 1, 4-byte CID, token
    [InlineData("1901")]                                     // §19.16 RETIRE_CONNECTION_ID
    [InlineData("1a0102030405060708")]                       // §19.17 PATH_CHALLENGE
    [InlineData("1b0102030405060708")]                       // §19.18 PATH_RESPONSE
    [InlineData("1c0a0603616263")]                           // §19.19 CONNECTION_CLOSE transport: PROTOCOL_VIOLATION from CRYPTO, "abc"
    [InlineData("1d410000")]                                 // §19.19 CONNECTION_CLOSE application 0x100, empty reason
    [InlineData("1e")]                                       // §19.20 HANDSHAKE_DONE
    [InlineData("306869")]                                   // RFC 9221 §4 DATAGRAM without length
    [InlineData("3102686901")]                               // RFC 9221 §4 DATAGRAM with length, then PING
    public void EveryFrameTypeRoundTripsThroughItsHexVector(string hex)
    {
        byte[] encoded = Convert.FromHexString(hex);
        Assert.Equal(hex, Convert.ToHexStringLower(FrameCodec.ParseAllAndRewrite(encoded)));
    }
}

public sealed class FrameFieldTests
{
    private static QuicReader ReaderAfterType(byte[] encoded, out ulong type)
    {
        var reader = new QuicReader(encoded);
        type = FrameReader.ReadFrameType(ref reader);
        return reader;
    }

    [Fact]
    public void StreamFrameFlagsMapToFields()
    {
        // RFC 9000 §19.8: 0x0f = OFF|LEN|FIN.
        QuicReader reader = ReaderAfterType(Convert.FromHexString("0f044064026869"), out ulong type);
        StreamFrame frame = StreamFrame.Parse(ref reader, type);
        Assert.Equal(4UL, frame.StreamId);
        Assert.Equal(100UL, frame.Offset);
        Assert.Equal("hi"u8.ToArray(), frame.Data.ToArray());
        Assert.True(frame.Fin);
        Assert.True(frame.HasLength);
        Assert.Equal(102UL, frame.EndOffset);
        Assert.True(reader.IsEmpty);
    }

    [Fact]
    public void StreamFrameWithoutLengthTakesTheRestOfThePacket()
    {
        // RFC 9000 §19.8: without LEN the data runs to the end of the packet.
        QuicReader reader = ReaderAfterType(Convert.FromHexString("0804686901"), out ulong type);
        StreamFrame frame = StreamFrame.Parse(ref reader, type);
        Assert.Equal(3, frame.Data.Length);
        Assert.False(frame.HasLength);
        Assert.True(reader.IsEmpty);
    }

    [Fact]
    public void NewConnectionIdFieldsAreExposed()
    {
        QuicReader reader = ReaderAfterType(Convert.FromHexString("1802010401020304000102030405060708090a0b0c0d0e0f"), out ulong type);
        NewConnectionIdFrame frame = NewConnectionIdFrame.Parse(ref reader, type);
        Assert.Equal(2UL, frame.SequenceNumber);
        Assert.Equal(1UL, frame.RetirePriorTo);
        Assert.Equal("01020304", Convert.ToHexStringLower(frame.ConnectionId));
        Assert.Equal("000102030405060708090a0b0c0d0e0f", Convert.ToHexStringLower(frame.StatelessResetToken));
    }

    [Fact]
    public void ConnectionCloseTransportCarriesTriggeringFrameType()
    {
        QuicReader reader = ReaderAfterType(Convert.FromHexString("1c0a0603616263"), out ulong type);
        ConnectionCloseFrame frame = ConnectionCloseFrame.Parse(ref reader, type);
        Assert.False(frame.IsApplicationError);
        Assert.Equal((ulong)TransportErrorCode.ProtocolViolation, frame.ErrorCode);
        Assert.Equal((ulong)FrameType.Crypto, frame.TriggeringFrameType);
        Assert.Equal("abc"u8.ToArray(), frame.ReasonPhrase.ToArray());
    }

    // Each malformed frame with the RFC 9000 error it must produce.
    [Theory]
    [InlineData("0f04ffffffffffffffff026869", (ulong)TransportErrorCode.FrameEncodingError)]          // §19.8 STREAM offset 2^62-1 + 2 bytes
    [InlineData("0700", (ulong)TransportErrorCode.FrameEncodingError)]                                // §19.7 empty NEW_TOKEN
    [InlineData("12d000000000000001", (ulong)TransportErrorCode.FrameEncodingError)]                  // §19.11 MAX_STREAMS 2^60+1
    [InlineData("17d000000000000001", (ulong)TransportErrorCode.FrameEncodingError)]                  // §19.14 STREAMS_BLOCKED 2^60+1
    [InlineData("180102" + "0401020304" + "000102030405060708090a0b0c0d0e0f", (ulong)TransportErrorCode.FrameEncodingError)] // §19.15 retire prior to > sequence
    [InlineData("180100" + "00" + "000102030405060708090a0b0c0d0e0f", (ulong)TransportErrorCode.FrameEncodingError)]  // §19.15 length 0
    [InlineData("180100" + "15" + "000102030405060708090a0b0c0d0e0f101112131415000102030405060708090a0b0c0d0e0f", (ulong)TransportErrorCode.FrameEncodingError)] // §19.15 length 21
    [InlineData("1801000401020304000102", (ulong)TransportErrorCode.FrameEncodingError)]             // §19.15 truncated reset token
    [InlineData("02050003050000", (ulong)TransportErrorCode.FrameEncodingError)]                     // §19.3.1 first range reaches 0, the next gap underflows
    [InlineData("0205000006", (ulong)TransportErrorCode.FrameEncodingError)]                         // §19.3.1 first range > largest
    [InlineData("02050001010003", (ulong)TransportErrorCode.FrameEncodingError)]                     // §19.3.1 range [2,2] minus length 3 underflows
    [InlineData("02050001", (ulong)TransportErrorCode.FrameEncodingError)]                           // §19.3 truncated before First ACK Range
    [InlineData("1f", (ulong)TransportErrorCode.FrameEncodingError)]                                 // §12.4 unknown type 0x1f
    [InlineData("4001", (ulong)TransportErrorCode.ProtocolViolation)]                                // §12.4 PING in a 2-byte encoding
    [InlineData("", (ulong)TransportErrorCode.ProtocolViolation)]                                    // §12.4 packet with no frames
    [InlineData("1a01020304", (ulong)TransportErrorCode.FrameEncodingError)]                         // §19.17 truncated PATH_CHALLENGE
    [InlineData("3105aa", (ulong)TransportErrorCode.FrameEncodingError)]                             // RFC 9221 DATAGRAM length past end
    public void MalformedFramesRaiseTheRfcError(string hex, ulong expected)
    {
        var error = Assert.Throws<QuicProtocolException>(() => FrameCodec.ParseAllAndRewrite(Convert.FromHexString(hex)));
        Assert.Equal((TransportErrorCode)expected, error.ErrorCode);
    }

    [Fact]
    public void CryptoFrameEndingBeyondTwoToTheSixtyTwoIsAFrameEncodingError()
    {
        // RFC 9000 §19.6: offset 2^62-1 with 1 byte of data ends at 2^62.
        var error = Assert.Throws<QuicProtocolException>(() => FrameCodec.ParseAllAndRewrite(Convert.FromHexString("06ffffffffffffffff01aa")));
        Assert.Equal(TransportErrorCode.FrameEncodingError, error.ErrorCode);
        Assert.Equal((ulong)FrameType.Crypto, error.FrameType);
    }

    [Fact]
    public void DatagramFrameIsAProtocolViolationWhenNotNegotiated()
    {
        // RFC 9221 §3.
        var frames = new FrameReader(Convert.FromHexString("306869"), EncryptionLevel.OneRtt, datagramFramesAccepted: false);
        try
        {
            frames.TryReadFrameType(out _);
            Assert.Fail("DATAGRAM accepted without negotiation.");
        }
        catch (QuicProtocolException error)
        {
            Assert.Equal(TransportErrorCode.ProtocolViolation, error.ErrorCode);
        }
    }
}
