using System.Diagnostics.CodeAnalysis;

namespace AspNetQuicSteer.Client.Http3;

/// <summary>
/// Validates the peer's QPACK encoder stream (RFC 9204 §4.3). We advertise SETTINGS_QPACK_MAX_TABLE_CAPACITY = 0,
/// so the only legal instruction is Set Dynamic Table Capacity with 0; everything else is QPACK_ENCODER_STREAM_ERROR.
/// </summary>
internal sealed class QpackEncoderStreamReader
{
    /// <summary>
    /// Consumes whole instructions from <paramref name="data"/> and returns how many bytes they took; an incomplete
    /// trailing instruction is left for the next call, prefixed to the bytes that follow it.
    /// </summary>
    [SuppressMessage("Performance", "CA1822:Mark members as static", Justification = "One reader per stream; a reader for a non-zero table would keep state here.")]
    public int Consume(ReadOnlySpan<byte> data)
    {
        int consumed = 0;
        while (consumed < data.Length)
        {
            byte first = data[consumed];
            if ((first & 0xe0) != 0x20)
            {
                // RFC 9204 §4.3.2-§4.3.4: Insert with Name Reference ('1'), Insert with Literal Name ('01') and
                // Duplicate ('000') all add an entry, which a table of capacity 0 cannot hold (§3.2.2, §4.3.1).
                throw Error("QPACK encoder stream inserts into a dynamic table of capacity 0.");
            }

            // RFC 9204 §4.3.1: Set Dynamic Table Capacity ('001', 5-bit prefix).
            if (!QpackInteger.TryDecode(
                    data[consumed..], 5, out ulong capacity, out int length, Http3ErrorCode.QpackEncoderStreamError))
            {
                break;
            }

            // RFC 9204 §4.3.1: a capacity above our SETTINGS_QPACK_MAX_TABLE_CAPACITY (0) is QPACK_ENCODER_STREAM_ERROR.
            if (capacity != 0)
            {
                throw Error($"QPACK encoder stream sets the dynamic table capacity to {capacity}, above the advertised 0.");
            }

            consumed += length;
        }

        return consumed;
    }

    private static Http3ProtocolViolationException Error(string message) => new(Http3ErrorCode.QpackEncoderStreamError, message);
}
