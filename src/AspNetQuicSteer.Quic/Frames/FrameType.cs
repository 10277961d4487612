namespace AspNetQuicSteer.Quic.Frames;

/// <summary>
/// Frame type values, RFC 9000 §19 and §12.4 Table 3, plus DATAGRAM (RFC 9221 §4). STREAM frames use
/// the eight types 0x08-0x0f (flag bits); <see cref="FrameTypes.Normalize"/> maps those to
/// <see cref="Stream"/>.
/// </summary>
internal enum FrameType : ulong
{
    Padding = 0x00,
    Ping = 0x01,
    Ack = 0x02,
    AckEcn = 0x03,
    ResetStream = 0x04,
    StopSending = 0x05,
    Crypto = 0x06,
    NewToken = 0x07,
    Stream = 0x08,
    MaxData = 0x10,
    MaxStreamData = 0x11,
    MaxStreamsBidi = 0x12,
    MaxStreamsUni = 0x13,
    DataBlocked = 0x14,
    StreamDataBlocked = 0x15,
    StreamsBlockedBidi = 0x16,
    StreamsBlockedUni = 0x17,
    NewConnectionId = 0x18,
    RetireConnectionId = 0x19,
    PathChallenge = 0x1a,
    PathResponse = 0x1b,
    ConnectionCloseTransport = 0x1c,
    ConnectionCloseApplication = 0x1d,
    HandshakeDone = 0x1e,
    Datagram = 0x30,
    DatagramWithLength = 0x31,
}
