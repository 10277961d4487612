using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Tls;

/// <summary>Shared helpers for the message codecs' parse boundary.</summary>
internal static class TlsDecoding
{
    /// <summary>Error code the reader reports; it is always rewrapped as decode_error at the codec boundary.</summary>
    public const TransportErrorCode ReaderErrorCode = TransportErrorCode.CryptoErrorBase + (ulong)TlsAlert.DecodeError;

    public static QuicReader CreateReader(ReadOnlySpan<byte> data) => new(data, ReaderErrorCode);

    /// <summary>RFC 8446 §6.2: a message that cannot be parsed per its syntax is decode_error.</summary>
    public static TlsAlertException DecodeError(string what, QuicProtocolException inner)
        => new(TlsAlert.DecodeError, $"Malformed {what}: {inner.Message}", inner);

    public static TlsAlertException DecodeError(string message) => new(TlsAlert.DecodeError, message);

    /// <summary>Trailing bytes after a structure's end are a syntax error (decode_error, RFC 8446 §6.2).</summary>
    public static void EnsureEnd(in QuicReader reader, string what)
    {
        if (!reader.IsEmpty)
        {
            throw DecodeError($"{what} has {reader.Remaining} trailing bytes.");
        }
    }

    /// <summary>Reads a vector of uint16 values with the given length-prefix bounds (RFC 8446 §3.4).</summary>
    public static ushort[] ReadUInt16List(ReadOnlySpan<byte> vector, int minBytes, string what)
    {
        if (vector.Length < minBytes || (vector.Length & 1) != 0)
        {
            throw DecodeError($"{what} list has an invalid length {vector.Length}.");
        }

        ushort[] values = new ushort[vector.Length / 2];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (ushort)(vector[2 * i] << 8 | vector[(2 * i) + 1]);
        }

        return values;
    }
}
