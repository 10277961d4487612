namespace AspNetQuicSteer.Client.Internal;

/// <summary>
/// The server provably did not process the request: its stream is at or above the connection's GOAWAY ID
/// (RFC 9114 §5.2), it was refused with H3_REQUEST_REJECTED (§4.1.1), or it was never sent. It may be sent again on
/// another connection; <see cref="Final"/> is what the caller sees when no retry is left.
/// </summary>
internal sealed class Http3RetryableException(string message, Http3RequestException final) : Exception(message, final)
{
    public Http3RequestException Final { get; } = final;
}
