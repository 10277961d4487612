namespace AspNetQuicSteer.Quic.Tls.Messages;

/// <summary>Finished (RFC 8446 §4.4.4): <c>opaque verify_data[Hash.length]</c>.</summary>
internal sealed class FinishedMessage
{
    public byte[] VerifyData { get; init; } = [];

    /// <summary>A verify_data of the wrong size for the negotiated hash is a syntax error (decode_error).</summary>
    public static FinishedMessage Decode(ReadOnlySpan<byte> body, int hashLength)
        => body.Length == hashLength
            ? new FinishedMessage { VerifyData = body.ToArray() }
            : throw TlsDecoding.DecodeError($"Finished verify_data is {body.Length} bytes, expected {hashLength}.");

    public byte[] Encode()
    {
        TlsBufferWriter w = new(VerifyData.Length + 4);
        int message = w.BeginMessage(TlsHandshakeType.Finished);
        w.WriteBytes(VerifyData);
        w.EndMessage(message);
        return w.ToArray();
    }
}
