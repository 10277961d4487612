namespace AspNetQuicSteer.Quic.Streams;

/// <summary>States of the sending part of a stream, RFC 9000 §3.1.</summary>
internal enum SendStreamState : byte
{
    /// <summary>Opened; nothing sent yet (the app may have buffered data).</summary>
    Ready,

    /// <summary>STREAM frames sent, FIN not yet sent.</summary>
    Send,

    /// <summary>A STREAM frame with FIN sent; waiting for all data to be acknowledged.</summary>
    DataSent,

    /// <summary>RESET_STREAM sent, not yet acknowledged.</summary>
    ResetSent,

    /// <summary>All data and the FIN acknowledged (terminal).</summary>
    DataRecvd,

    /// <summary>RESET_STREAM acknowledged (terminal).</summary>
    ResetRecvd,
}
