using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Connection;

/// <summary>Why a connection closed: the CONNECTION_CLOSE content (RFC 9000 §19.19), local or from the peer.</summary>
internal sealed record QuicConnectionError(bool IsApplicationError, ulong ErrorCode, ulong FrameType, string Reason, bool IsLocal)
{
    public TransportErrorCode TransportErrorCode => (TransportErrorCode)ErrorCode;

    public override string ToString()
        => $"{(IsLocal ? "local" : "peer")} {(IsApplicationError ? "application" : "transport")} error 0x{ErrorCode:x}"
            + (Reason.Length > 0 ? $": {Reason}" : string.Empty);
}
