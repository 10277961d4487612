using AspNetQuicSteer.Client.Http3;
using CsCheck;

namespace AspNetQuicSteer.Client.Tests.Http3;

public sealed class QpackStreamReaderTests
{
    // RFC 9204 §4.3.1: Set Dynamic Table Capacity to 0 is the one instruction a capacity-0 decoder accepts.
    [Fact]
    public void EncoderStream_AcceptsCapacityZero()
    {
        var reader = new QpackEncoderStreamReader();
        Assert.Equal(0, reader.Consume([]));
        Assert.Equal(3, reader.Consume([0x20, 0x20, 0x20]));
    }

    [Theory]
    [InlineData("21")]                 // RFC 9204 §4.3.1: capacity 1 exceeds the advertised 0
    [InlineData("3fbd01")]             // capacity 220 (RFC 9204 Appendix B.2)
    [InlineData("3f")]                 // capacity ≥ 31: refused before its continuation bytes arrive
    [InlineData("20" + "c00f")]        // RFC 9204 §4.3.2: Insert with Name Reference
    [InlineData("4a637573746f6d2d6b6579")] // RFC 9204 §4.3.3: Insert with Literal Name (Appendix B.3)
    [InlineData("02")]                 // RFC 9204 §4.3.4: Duplicate (Appendix B.4)
    [InlineData("00")]                 // Duplicate of relative index 0
    public void EncoderStream_AnythingElseIsEncoderStreamError(string hex)
        => Http3FrameTests.AssertViolation(
            Http3ErrorCode.QpackEncoderStreamError, () => new QpackEncoderStreamReader().Consume(Convert.FromHexString(hex)));

    // RFC 9204 §4.4.2: Stream Cancellation is fine, including multi-byte stream IDs split across reads.
    [Fact]
    public void DecoderStream_AcceptsStreamCancellations_Incrementally()
    {
        var reader = new QpackDecoderStreamReader();
        byte[] data = Convert.FromHexString("48" + "7f01" + "7fffff03" + "44");
        Assert.Equal(data.Length, reader.Consume(data));

        Assert.Equal(1, reader.Consume(data.AsSpan(0, 2)));   // "48", then an incomplete "7f"
        Assert.Equal(0, reader.Consume(data.AsSpan(1, 1)));  // still incomplete
        Assert.Equal(2, reader.Consume(data.AsSpan(1, 3)));  // "7f01" complete, "7f" of the next left over
    }

    [Theory]
    [InlineData("84")]   // RFC 9204 §4.4.1: Section Acknowledgment, but no section had RIC > 0 (Appendix B.2)
    [InlineData("ff")]
    [InlineData("01")]   // RFC 9204 §4.4.3: Insert Count Increment beyond the (zero) inserts sent (Appendix B.3)
    [InlineData("00")]   // RFC 9204 §4.4.3: an Increment of zero
    [InlineData("48" + "84")]
    public void DecoderStream_AcknowledgmentsAndIncrementsAreDecoderStreamError(string hex)
        => Http3FrameTests.AssertViolation(
            Http3ErrorCode.QpackDecoderStreamError, () => new QpackDecoderStreamReader().Consume(Convert.FromHexString(hex)));

    // RFC 9204 §4.1.1 / §6: an oversized integer on the decoder stream is that stream's error.
    [Fact]
    public void DecoderStream_IntegerOverflowIsDecoderStreamError()
        => Http3FrameTests.AssertViolation(
            Http3ErrorCode.QpackDecoderStreamError,
            () => new QpackDecoderStreamReader().Consume(Convert.FromHexString("7f" + "ffffffffffffffffff01")));

    [Fact]
    public void SplittingTheStreamAnywhereConsumesTheSameBytes()
    {
        Gen<byte[]> cancellation = Gen.ULong[0, QpackInteger.MaxValue].Select(id =>
        {
            var buffer = new byte[QpackInteger.MaxLength];
            return buffer[..QpackInteger.Encode(buffer, 0x40, 6, id)];
        });
        Gen.Select(cancellation.Array[0, 8], Gen.Int[1, 7]).Sample((instructions, chunk) =>
        {
            byte[] encoder = [.. Enumerable.Repeat((byte)0x20, instructions.Length)];
            byte[] decoder = [.. instructions.SelectMany(b => b)];
            var encoderReader = new QpackEncoderStreamReader();
            var decoderReader = new QpackDecoderStreamReader();
            Assert.Equal(encoder.Length, FeedInChunks(data => encoderReader.Consume(data), encoder, chunk));
            Assert.Equal(decoder.Length, FeedInChunks(data => decoderReader.Consume(data), decoder, chunk));
        }, iter: 2_000);
    }

    /// <summary>Feeds the stream as a transport would: unconsumed bytes are kept and prefixed to the next read.</summary>
    private static int FeedInChunks(Func<byte[], int> consume, byte[] stream, int chunk)
    {
        var pending = new List<byte>();
        int total = 0;
        for (int offset = 0; offset < stream.Length; offset += chunk)
        {
            pending.AddRange(stream.Skip(offset).Take(chunk));
            int consumed = consume([.. pending]);
            pending.RemoveRange(0, consumed);
            total += consumed;
        }

        Assert.Empty(pending);
        return total;
    }
}
