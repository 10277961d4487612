using System.Diagnostics.CodeAnalysis;

namespace AspNetQuicSteer.Client.Http3;

/// <summary>
/// Validates the peer's QPACK decoder stream (RFC 9204 §4.4). Our encoder never references the dynamic table, so
/// there is nothing to acknowledge: only Stream Cancellation is legal, the other instructions are
/// QPACK_DECODER_STREAM_ERROR.
/// </summary>
internal sealed class QpackDecoderStreamReader
{
    /// <summary>
    /// Consumes whole instructions from <paramref name="data"/> and returns how many bytes they took; an incomplete
    /// trailing instruction is left for the next call, prefixed to the bytes that follow it.
    /// </summary>
    [SuppressMessage("Performance", "CA1822:Mark members as static", Justification = "One reader per stream; a reader for a dynamic-table encoder would keep state here.")]
    public int Consume(ReadOnlySpan<byte> data)
    {
        int consumed = 0;
        while (consumed < data.Length)
        {
            byte first = data[consumed];
            if ((first & 0x80) != 0)
            {
                // RFC 9204 §4.4.1: Section Acknowledgment ('1') for a stream with no unacknowledged section that has a
                // non-zero Required Insert Count is QPACK_DECODER_STREAM_ERROR; all of ours have Required Insert Count 0.
                throw Error("QPACK decoder stream acknowledges a field section that referenced no dynamic table.");
            }

            if ((first & 0x40) == 0)
            {
                // RFC 9204 §4.4.3: Insert Count Increment ('00') of zero, or beyond the inserts the encoder sent (none),
                // is QPACK_DECODER_STREAM_ERROR.
                throw Error("QPACK decoder stream increments the insert count, but nothing was inserted.");
            }

            // RFC 9204 §4.4.2: Stream Cancellation ('01', 6-bit prefix stream ID): no dynamic state to release.
            if (!QpackInteger.TryDecode(
                    data[consumed..], 6, out _, out int length, Http3ErrorCode.QpackDecoderStreamError))
            {
                break;
            }

            consumed += length;
        }

        return consumed;
    }

    private static Http3ProtocolViolationException Error(string message) => new(Http3ErrorCode.QpackDecoderStreamError, message);
}
