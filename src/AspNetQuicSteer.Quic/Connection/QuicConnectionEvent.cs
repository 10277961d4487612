namespace AspNetQuicSteer.Quic.Connection;

internal enum QuicConnectionEventKind
{
    /// <summary>TLS finished on this side and 1-RTT keys are installed (RFC 9001 §4.1.1).</summary>
    HandshakeCompleted,

    /// <summary>The handshake is confirmed (RFC 9001 §4.1.2).</summary>
    HandshakeConfirmed,

    /// <summary>The connection reached the closed state; no more datagrams will be produced.</summary>
    Closed,
}

internal readonly record struct QuicConnectionEvent(QuicConnectionEventKind Kind);
