using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Client.Http3;

/// <summary>SETTINGS (RFC 9114 §7.2.4): a sequence of (Identifier (i), Value (i)) pairs.</summary>
internal static class SettingsFrame
{
    /// <summary>SETTINGS_QPACK_MAX_TABLE_CAPACITY (RFC 9204 §5); default 0.</summary>
    public const ulong QpackMaxTableCapacity = 0x1;

    /// <summary>SETTINGS_MAX_FIELD_SECTION_SIZE (RFC 9114 §7.2.4.1); default unlimited.</summary>
    public const ulong MaxFieldSectionSize = 0x6;

    /// <summary>SETTINGS_QPACK_BLOCKED_STREAMS (RFC 9204 §5); default 0.</summary>
    public const ulong QpackBlockedStreams = 0x7;

    /// <summary>SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 9220 §3).</summary>
    public const ulong EnableConnectProtocol = 0x8;

    /// <summary>SETTINGS_H3_DATAGRAM (RFC 9297 §2.1.1).</summary>
    public const ulong H3Datagram = 0x33;

    // Above this many settings the duplicate check switches from a linear scan to a set.
    private const int LinearDuplicateScanLimit = 16;

    /// <summary>
    /// Parses a SETTINGS payload into its parameters, in order. Unknown and reserved (greasing) identifiers are kept:
    /// RFC 9114 §7.2.4 says to ignore them, which is the caller's lookup doing nothing with them.
    /// </summary>
    public static List<(ulong Id, ulong Value)> Parse(ReadOnlySpan<byte> payload)
    {
        var settings = new List<(ulong Id, ulong Value)>();
        HashSet<ulong>? seen = null;
        int offset = 0;
        while (offset < payload.Length)
        {
            // RFC 9114 §7.1: a payload that ends inside a parameter is H3_FRAME_ERROR.
            ulong id = Http3FramePayload.ReadVarInt(payload, ref offset, "SETTINGS");
            ulong value = Http3FramePayload.ReadVarInt(payload, ref offset, "SETTINGS");

            // RFC 9114 §7.2.4.1: identifiers of HTTP/2 settings with no HTTP/3 counterpart
            // (ENABLE_PUSH, MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE) are H3_SETTINGS_ERROR.
            if (id is >= 0x2 and <= 0x5)
            {
                throw new Http3ProtocolViolationException(
                    Http3ErrorCode.SettingsError, $"SETTINGS carries the HTTP/2 setting 0x{id:x}.");
            }

            // RFC 9114 §7.2.4: the same identifier MUST NOT occur twice; we treat it as H3_SETTINGS_ERROR.
            if (IsDuplicate(settings, ref seen, id))
            {
                throw new Http3ProtocolViolationException(
                    Http3ErrorCode.SettingsError, $"SETTINGS repeats the identifier 0x{id:x}.");
            }

            settings.Add((id, value));
        }

        return settings;
    }

    /// <summary>Writes the whole frame (header and payload).</summary>
    public static int Write(Span<byte> destination, ReadOnlySpan<(ulong Id, ulong Value)> settings)
    {
        int written = Http3FrameHeader.Write(destination, Http3FrameType.Settings, GetPayloadLength(settings));
        foreach ((ulong id, ulong value) in settings)
        {
            written += Http3FramePayload.WriteVarInt(destination[written..], id);
            written += Http3FramePayload.WriteVarInt(destination[written..], value);
        }

        return written;
    }

    /// <summary>Length of the whole frame.</summary>
    public static int GetLength(ReadOnlySpan<(ulong Id, ulong Value)> settings)
    {
        int payloadLength = GetPayloadLength(settings);
        return Http3FrameHeader.GetLength(Http3FrameType.Settings, payloadLength) + payloadLength;
    }

    /// <summary>The value of <paramref name="id"/> in parsed settings, if present.</summary>
    public static bool TryGetValue(List<(ulong Id, ulong Value)> settings, ulong id, out ulong value)
    {
        ArgumentNullException.ThrowIfNull(settings);
        foreach ((ulong settingId, ulong settingValue) in settings)
        {
            if (settingId == id)
            {
                value = settingValue;
                return true;
            }
        }

        value = 0;
        return false;
    }

    private static int GetPayloadLength(ReadOnlySpan<(ulong Id, ulong Value)> settings)
    {
        int length = 0;
        foreach ((ulong id, ulong value) in settings)
        {
            length += QuicVarInt.GetLength(id) + QuicVarInt.GetLength(value);
        }

        return length;
    }

    private static bool IsDuplicate(List<(ulong Id, ulong Value)> settings, ref HashSet<ulong>? seen, ulong id)
    {
        if (seen is null)
        {
            foreach ((ulong existing, _) in settings)
            {
                if (existing == id)
                {
                    return true;
                }
            }

            if (settings.Count < LinearDuplicateScanLimit)
            {
                return false;
            }

            // A hostile peer can send thousands of parameters; keep the check linear overall.
            seen = new HashSet<ulong>(settings.Count * 2);
            foreach ((ulong existing, _) in settings)
            {
                seen.Add(existing);
            }
        }

        return !seen.Add(id);
    }
}
