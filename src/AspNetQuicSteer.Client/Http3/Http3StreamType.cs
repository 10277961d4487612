namespace AspNetQuicSteer.Client.Http3;

/// <summary>Unidirectional stream types (RFC 9114 §6.2, RFC 9204 §4.2).</summary>
internal static class Http3StreamType
{
    public const ulong Control = 0x00;
    public const ulong Push = 0x01;
    public const ulong QpackEncoder = 0x02;
    public const ulong QpackDecoder = 0x03;

    /// <summary>RFC 9114 §6.2.3: types 0x1f * N + 0x21 are greasing values; the stream is read and discarded.</summary>
    public static bool IsReserved(ulong type) => type >= 0x21 && (type - 0x21) % 0x1f == 0;
}
