using System.Text;
using AspNetQuicSteer.Client.Http3;
using CsCheck;

namespace AspNetQuicSteer.Client.Tests.Http3;

public sealed class HuffmanCodecTests
{
    // RFC 7541 Appendix C.4 (request examples with Huffman coding) and C.6.1 ("302", "private").
    [Theory]
    [InlineData("www.example.com", "f1e3c2e5f23a6ba0ab90f4ff")]
    [InlineData("no-cache", "a8eb10649cbf")]
    [InlineData("custom-key", "25a849e95ba97d7f")]
    [InlineData("custom-value", "25a849e95bb8e8b4bf")]
    [InlineData("302", "6402")]
    [InlineData("private", "aec3771a4b")]
    [InlineData("", "")]
    public void Rfc7541Examples(string text, string hex)
    {
        byte[] plain = Encoding.ASCII.GetBytes(text);
        byte[] encoded = Convert.FromHexString(hex);
        Assert.Equal(encoded.Length, HuffmanCodec.GetEncodedLength(plain));
        var buffer = new byte[encoded.Length];
        Assert.Equal(encoded.Length, HuffmanCodec.Encode(plain, buffer));
        Assert.Equal(encoded, buffer);

        var decoded = new byte[HuffmanCodec.GetMaxDecodedLength(encoded.Length)];
        int written = HuffmanCodec.Decode(encoded, decoded);
        Assert.Equal(plain, decoded[..written]);
    }

    [Fact]
    public void EverySymbolRoundTripsAlone()
    {
        var encoded = new byte[4];
        var decoded = new byte[1];
        for (int symbol = 0; symbol < 256; symbol++)
        {
            int length = HuffmanCodec.Encode([(byte)symbol], encoded);
            Assert.Equal(1, HuffmanCodec.Decode(encoded.AsSpan(0, length), decoded));
            Assert.Equal(symbol, decoded[0]);
        }
    }

    // RFC 7541 §5.2: padding longer than 7 bits, padding that is not the EOS prefix (ones), and EOS itself are errors.
    [Theory]
    [InlineData("1fff")]     // 'a' (00011) + 3 bits of padding, then a whole byte of ones: 11 bits of padding
    [InlineData("18")]       // 'a' + padding 000
    [InlineData("1e")]       // 'a' + padding 110
    [InlineData("ff")]       // 8 bits of padding, no symbol
    [InlineData("ffffffff")] // EOS (30 ones) plus two bits
    [InlineData("1fffffffff")] // 'a' + EOS
    public void InvalidStringsFail(string hex)
        => Http3FrameTests.AssertViolation(
            Http3ErrorCode.QpackDecompressionFailed, () => HuffmanCodec.Decode(Convert.FromHexString(hex), new byte[16]));

    [Fact]
    public void DestinationTooSmall_DecodeThrows_TryDecodeReturnsFalse_EncodeThrowsArgumentException()
    {
        byte[] encoded = Convert.FromHexString("f1e3c2e5f23a6ba0ab90f4ff"); // www.example.com
        Http3FrameTests.AssertViolation(Http3ErrorCode.QpackDecompressionFailed, () => HuffmanCodec.Decode(encoded, new byte[14]));
        Assert.False(HuffmanCodec.TryDecode(encoded, new byte[14], out _));
        Assert.True(HuffmanCodec.TryDecode(encoded, new byte[15], out int written));
        Assert.Equal(15, written);
        Assert.Throws<ArgumentException>(() => HuffmanCodec.Encode("www.example.com"u8, new byte[11]));
    }

    [Fact]
    public void RoundTripsRandomBytes()
        => Gen.Byte.Array[0, 300].Sample(plain =>
        {
            var encoded = new byte[HuffmanCodec.GetEncodedLength(plain)];
            Assert.Equal(encoded.Length, HuffmanCodec.Encode(plain, encoded));
            var decoded = new byte[HuffmanCodec.GetMaxDecodedLength(encoded.Length)];
            int written = HuffmanCodec.Decode(encoded, decoded);
            Assert.Equal(plain, decoded[..written]);
        }, iter: 5_000);
}
