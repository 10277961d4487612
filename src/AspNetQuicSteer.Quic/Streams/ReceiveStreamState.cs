namespace AspNetQuicSteer.Quic.Streams;

/// <summary>States of the receiving part of a stream, RFC 9000 §3.2.</summary>
internal enum ReceiveStreamState : byte
{
    /// <summary>Receiving; final size unknown.</summary>
    Recv,

    /// <summary>A FIN was received, so the final size is known; data still missing.</summary>
    SizeKnown,

    /// <summary>Every byte up to the final size received; the app has not read it all.</summary>
    DataRecvd,

    /// <summary>RESET_STREAM received; the app has not yet observed it.</summary>
    ResetRecvd,

    /// <summary>The app read everything including the FIN (terminal).</summary>
    DataRead,

    /// <summary>The app observed the reset, or abandoned reading (terminal).</summary>
    ResetRead,
}
