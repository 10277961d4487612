namespace AspNetQuicSteer.Client.Http3;

/// <summary>HTTP/3 frame types (RFC 9114 §7.2, §11.2.1).</summary>
internal static class Http3FrameType
{
    public const ulong Data = 0x0;
    public const ulong Headers = 0x1;
    public const ulong CancelPush = 0x3;
    public const ulong Settings = 0x4;
    public const ulong PushPromise = 0x5;
    public const ulong GoAway = 0x7;
    public const ulong MaxPushId = 0xd;

    /// <summary>
    /// HTTP/2 frame types with no HTTP/3 counterpart: PRIORITY, PING, WINDOW_UPDATE, CONTINUATION.
    /// RFC 9114 §7.2.8: their receipt MUST be treated as a connection error of type H3_FRAME_UNEXPECTED.
    /// </summary>
    public static ReadOnlySpan<ulong> Http2Only => [0x2, 0x6, 0x8, 0x9];

    /// <summary>RFC 9114 §7.2.8: types 0x1f * N + 0x21 are greasing values, to be ignored on receipt.</summary>
    public static bool IsReserved(ulong type) => type >= 0x21 && (type - 0x21) % 0x1f == 0;

    /// <summary>RFC 9114 §7.2.8: true for the HTTP/2-only types, whose receipt is H3_FRAME_UNEXPECTED.</summary>
    public static bool IsHttp2Only(ulong type) => type is 0x2 or 0x6 or 0x8 or 0x9;
}
