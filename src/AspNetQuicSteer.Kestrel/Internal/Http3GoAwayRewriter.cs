namespace AspNetQuicSteer.Kestrel.Internal;

/// <summary>
/// Watches Kestrel's outbound HTTP/3 control stream and fixes one value on the wire: Kestrel announces a graceful
/// shutdown with GOAWAY(2^62-1) (KESTREL.md §4), but RFC 9114 §5.2 requires a server's GOAWAY to carry a
/// client-initiated bidirectional stream ID (divisible by 4), and strict clients (nghttp3) close the connection with
/// H3_ID_ERROR on 2^62-1. 2^62-4 has the same meaning ("no request below the limit is refused yet"), the same
/// eight-byte varint length (so no framing changes), and is a valid request stream ID: only the last byte changes.
/// A byte-wise parser (stream type, then frames: type, length, payload; RFC 9114 §6.2.1, §7.1) so splits anywhere
/// between writes are fine.
/// </summary>
internal struct Http3GoAwayRewriter
{
    private const ulong GoAwayFrameType = 0x07;
    private const ulong MaxVarInt = (1UL << 62) - 1;

    private Phase _phase;
    private int _varIntRemaining;
    private ulong _varIntValue;
    private int _varIntLength;
    private ulong _frameType;
    private ulong _payloadRemaining;

    private enum Phase : byte
    {
        StreamType,
        FrameType,
        FrameLength,
        Payload,
        GoAwayId,
    }

    /// <summary>Rewrites <paramref name="data"/> in place where it carries the invalid GOAWAY ID, and advances the parser.</summary>
    public void Process(Span<byte> data)
    {
        for (int i = 0; i < data.Length; i++)
        {
            if (_phase == Phase.Payload)
            {
                // Skip a frame's payload in one step.
                ulong skip = Math.Min(_payloadRemaining, (ulong)(data.Length - i));
                _payloadRemaining -= skip;
                i += (int)skip - 1;
                if (_payloadRemaining == 0) _phase = Phase.FrameType;
                continue;
            }

            byte b = data[i];
            if (_varIntRemaining == 0)
            {
                // RFC 9000 §16: the two high bits give the length.
                _varIntLength = 1 << (b >> 6);
                _varIntRemaining = _varIntLength;
                _varIntValue = (ulong)(b & 0x3F);
            }
            else
            {
                _varIntValue = (_varIntValue << 8) | b;
            }

            if (--_varIntRemaining > 0) continue;

            if (_phase == Phase.GoAwayId && _varIntLength == 8 && _varIntValue == MaxVarInt)
            {
                data[i] = 0xFC; // 2^62-1 → 2^62-4
            }

            OnVarInt(_varIntValue);
        }
    }

    private void OnVarInt(ulong value)
    {
        switch (_phase)
        {
            case Phase.StreamType:
                _phase = Phase.FrameType;
                break;
            case Phase.FrameType:
                _frameType = value;
                _phase = Phase.FrameLength;
                break;
            case Phase.FrameLength:
                _payloadRemaining = value;
                if (value == 0) _phase = Phase.FrameType;
                else _phase = _frameType == GoAwayFrameType ? Phase.GoAwayId : Phase.Payload;
                break;
            case Phase.GoAwayId:
                _payloadRemaining -= Math.Min(_payloadRemaining, (ulong)_varIntLength);
                _phase = _payloadRemaining == 0 ? Phase.FrameType : Phase.Payload;
                break;
        }
    }
}
