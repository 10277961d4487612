using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Frames;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Tests.Frames;

public sealed class FrameTruncationTests
{
    [Theory]
    [InlineData("0f04", 0x0fUL)]        // STREAM with OFF|LEN|FIN, truncated after the stream ID
    [InlineData("0600", 0x06UL)]        // CRYPTO, truncated after the offset
    [InlineData("1c0a", 0x1cUL)]        // CONNECTION_CLOSE, truncated after the error code
    public void TruncatedFramesReportTheirTypeForConnectionClose(string hex, ulong expectedType)
    {
        // RFC 9000 §19.19: CONNECTION_CLOSE carries the type of the frame that triggered the error.
        byte[] payload = Convert.FromHexString(hex);
        var exception = Assert.Throws<QuicProtocolException>(() =>
        {
            var frames = new FrameReader(payload, EncryptionLevel.OneRtt, datagramFramesAccepted: false);
            while (frames.TryReadFrameType(out ulong type))
            {
                switch (FrameTypes.Normalize(type))
                {
                    case FrameType.Stream: StreamFrame.Parse(ref frames.Reader, type); break;
                    case FrameType.Crypto: CryptoFrame.Parse(ref frames.Reader, type); break;
                    default: ConnectionCloseFrame.Parse(ref frames.Reader, type); break;
                }
            }
        });

        Assert.Equal(TransportErrorCode.FrameEncodingError, exception.ErrorCode);
        Assert.Equal(expectedType, exception.FrameType);
    }

    [Fact]
    public void PayloadSizingMatchesTheVarintRules()
    {
        // RFC 9000 §16: the largest payload whose length prefix plus payload fits.
        Assert.Equal(-1, FrameSizing.MaxPayloadWithLengthPrefix(0));
        Assert.Equal(0, FrameSizing.MaxPayloadWithLengthPrefix(1));
        Assert.Equal(63, FrameSizing.MaxPayloadWithLengthPrefix(64));
        Assert.Equal(63, FrameSizing.MaxPayloadWithLengthPrefix(65));
        Assert.Equal(64, FrameSizing.MaxPayloadWithLengthPrefix(66));
        Assert.Equal(1198, FrameSizing.MaxPayloadWithLengthPrefix(1200));
        Assert.Equal(16383, FrameSizing.MaxPayloadWithLengthPrefix(16386));
        Assert.Equal(16384, FrameSizing.MaxPayloadWithLengthPrefix(16388));
    }
}
