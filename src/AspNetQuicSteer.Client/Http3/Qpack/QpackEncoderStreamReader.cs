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
    /// trailing instruction would be left for the next call, prefixed to the bytes that follow it. (Every legal
    /// instruction here is the single byte 0x20, and any other first byte is already an error, so nothing is left.)
    /// </summary>
    [SuppressMessage("Performance", "CA1822:Mark members as static", Justification = "One reader per stream; a reader for a non-zero table would keep state here.")]
    public int Consume(ReadOnlySpan<byte> data)
    {
        for (int consumed = 0; consumed < data.Length; consumed++)
        {
            byte first = data[consumed];
            if ((first & 0xe0) != 0x20)
            {
                // RFC 9204 §4.3.2-§4.3.4: Insert with Name Reference ('1'), Insert with Literal Name ('01') and
                // Duplicate ('000') all add an entry, which a table of capacity 0 cannot hold (§3.2.2).
                throw Error("QPACK encoder stream inserts into a dynamic table of capacity 0.");
            }

            // RFC 9204 §4.3.1: Set Dynamic Table Capacity ('001', 5-bit prefix). A capacity above our
            // SETTINGS_QPACK_MAX_TABLE_CAPACITY (0) is QPACK_ENCODER_STREAM_ERROR; any non-zero prefix bit already
            // means a capacity of at least 1, so there is no need to wait for continuation bytes.
            if (first != 0x20)
            {
                throw Error("QPACK encoder stream sets a dynamic table capacity above the advertised 0.");
            }
        }

        return data.Length;
    }

    private static Http3ProtocolViolationException Error(string message) => new(Http3ErrorCode.QpackEncoderStreamError, message);
}
