using AspNetQuicSteer.Client.Http3;
using CsCheck;

namespace AspNetQuicSteer.Client.Tests.Http3;

public sealed class QpackIntegerTests
{
    // RFC 7541 Appendix C.1: 10 and 1337 with a 5-bit prefix, 42 with an 8-bit prefix (starting a byte).
    [Theory]
    [InlineData(10UL, 5, "0a")]
    [InlineData(1337UL, 5, "1f9a0a")]
    [InlineData(42UL, 8, "2a")]
    [InlineData(31UL, 5, "1f00")]  // exactly 2^N - 1 needs a continuation byte (RFC 7541 §5.1)
    [InlineData(0x3fffffffffffffffUL, 1, "01feffffffffffffff3f")]
    public void Rfc7541Examples(ulong value, int prefixBits, string hex)
    {
        byte[] expected = Convert.FromHexString(hex);
        Assert.Equal(expected.Length, QpackInteger.GetLength(prefixBits, value));
        var buffer = new byte[expected.Length];
        Assert.Equal(expected.Length, QpackInteger.Encode(buffer, 0, prefixBits, value));
        Assert.Equal(expected, buffer);

        Assert.True(QpackInteger.TryDecode(expected, prefixBits, out ulong decoded, out int consumed));
        Assert.Equal((value, expected.Length), (decoded, consumed));
    }

    [Fact]
    public void FlagsAboveThePrefixAreKeptOnEncodeAndIgnoredOnDecode()
    {
        var buffer = new byte[3];
        Assert.Equal(3, QpackInteger.Encode(buffer, 0xe0, 5, 1337));
        Assert.Equal(Convert.FromHexString("ff9a0a"), buffer);
        Assert.True(QpackInteger.TryDecode(buffer, 5, out ulong value, out _));
        Assert.Equal(1337UL, value);

        // Flags overlapping the prefix are masked off rather than corrupting the value.
        Assert.Equal(1, QpackInteger.Encode(buffer, 0xff, 5, 3));
        Assert.Equal(0xe3, buffer[0]);
    }

    [Fact]
    public void TruncatedInputReturnsFalse_ShortDestinationReturnsMinusOne()
    {
        Assert.False(QpackInteger.TryDecode([], 5, out _, out _));
        Assert.False(QpackInteger.TryDecode([0x1f], 5, out _, out _));
        Assert.False(QpackInteger.TryDecode([0x1f, 0x9a], 5, out _, out _));
        Assert.Equal(-1, QpackInteger.Encode(new byte[2], 0, 5, 1337));
    }

    // RFC 9204 §4.1.1: values up to 62 bits must decode; larger ones are refused with the stream's error (§6).
    [Theory]
    [InlineData("01ffffffffffffffff3f")]   // 2^62 exactly (one past the maximum)
    [InlineData("ff80808080808080808001")] // a tenth continuation byte
    [InlineData("ffffffffffffffffffff01")]
    public void OverflowThrowsTheRequestedError(string hex)
    {
        byte[] bytes = Convert.FromHexString(hex);
        Http3FrameTests.AssertViolation(
            Http3ErrorCode.QpackDecompressionFailed, () => QpackInteger.TryDecode(bytes, 1, out _, out _));
        Http3FrameTests.AssertViolation(
            Http3ErrorCode.QpackEncoderStreamError,
            () => QpackInteger.TryDecode(bytes, 1, out _, out _, Http3ErrorCode.QpackEncoderStreamError));
    }

    [Fact]
    public void RoundTripsForEveryPrefixSize()
        => Gen.Select(Gen.Int[1, 8], Gen.OneOf(Gen.ULong[0, 300], Gen.ULong[0, QpackInteger.MaxValue]), Gen.Byte)
            .Sample((prefixBits, value, flags) =>
            {
                Span<byte> buffer = stackalloc byte[QpackInteger.MaxLength];
                int written = QpackInteger.Encode(buffer, flags, prefixBits, value);
                Assert.Equal(QpackInteger.GetLength(prefixBits, value), written);
                Assert.True(QpackInteger.TryDecode(buffer[..written], prefixBits, out ulong decoded, out int consumed));
                Assert.Equal((value, written), (decoded, consumed));
                Assert.False(QpackInteger.TryDecode(buffer[..(written - 1)], prefixBits, out _, out _));
            }, iter: 20_000);
}
