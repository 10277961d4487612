using AspNetQuicSteer.Quic.Wire;
using CsCheck;

namespace AspNetQuicSteer.Quic.Tests.Wire;

public sealed class QuicVarIntTests
{
    // RFC 9000 §A.1 sample encodings.
    [Theory]
    [InlineData("c2197c5eff14e88c", 151288809941952652UL)]
    [InlineData("9d7f3e7d", 494878333UL)]
    [InlineData("7bbd", 15293UL)]
    [InlineData("25", 37UL)]
    [InlineData("4025", 37UL)]
    public void DecodesRfc9000AppendixA1Samples(string hex, ulong expected)
    {
        byte[] bytes = Convert.FromHexString(hex);
        Assert.True(QuicVarInt.TryRead(bytes, out ulong value, out int read));
        Assert.Equal(expected, value);
        Assert.Equal(bytes.Length, read);
    }

    [Theory]
    [InlineData("c2197c5eff14e88c", 151288809941952652UL)]
    [InlineData("9d7f3e7d", 494878333UL)]
    [InlineData("7bbd", 15293UL)]
    [InlineData("25", 37UL)]
    public void EncodesRfc9000AppendixA1SamplesMinimally(string hex, ulong value)
    {
        Span<byte> buffer = stackalloc byte[8];
        Assert.True(QuicVarInt.TryWrite(buffer, value, out int written));
        Assert.Equal(hex, Convert.ToHexStringLower(buffer[..written]));
    }

    [Fact]
    public void RejectsValuesAboveTwoToThe62()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => QuicVarInt.GetLength(QuicVarInt.MaxValue + 1));
    }

    [Fact]
    public void RoundTripsAnyValue()
    {
        Gen.ULong[0, QuicVarInt.MaxValue].Sample(value =>
        {
            Span<byte> buffer = stackalloc byte[8];
            QuicVarInt.TryWrite(buffer, value, out int written);
            return QuicVarInt.TryRead(buffer[..written], out ulong decoded, out int read)
                && decoded == value && read == written && written == QuicVarInt.GetLength(value);
        }, iter: 100_000);
    }

    [Fact]
    public void ReaderNeverThrowsAnythingButTheTypedErrorOnRandomBytes()
    {
        Gen.Byte.Array[0, 24].Sample(bytes =>
        {
            var reader = new QuicReader(bytes);
            try
            {
                while (!reader.IsEmpty)
                {
                    _ = reader.ReadVarIntPrefixedBytes();
                }
            }
            catch (QuicProtocolException ex)
            {
                Assert.Equal(TransportErrorCode.FrameEncodingError, ex.ErrorCode);
            }
        }, iter: 100_000);
    }
}
