namespace AspNetQuicSteer.Quic.Connection;

/// <summary>Retransmittable content a sent packet carried, so its loss or acknowledgment can be acted on (RFC 9000 §13.3).</summary>
internal enum SentFrameKind : byte
{
    Crypto,
    Stream,
    ResetStream,
    StopSending,
    MaxData,
    MaxStreamData,
    MaxStreamsBidi,
    MaxStreamsUni,
    DataBlocked,
    StreamDataBlocked,
    StreamsBlockedBidi,
    StreamsBlockedUni,
    NewConnectionId,
    RetireConnectionId,
    NewToken,
    HandshakeDone,
    PathChallenge,
    PathResponse,
    Ping,
}

/// <summary>
/// One frame's record in a sent packet. A plain struct kept in a per-connection pool (no allocation per packet).
/// Fields are interpreted per <see cref="Kind"/>: Stream uses StreamId/Offset/Length/Fin; MaxStreamData uses
/// StreamId/Value; MaxData/MaxStreams*/…Blocked use Value; NewConnectionId/RetireConnectionId use Value as the
/// sequence number; Crypto uses Offset/Length.
/// </summary>
internal struct SentFrame
{
    public SentFrameKind Kind;
    public bool Fin;
    public ulong StreamId;
    public ulong Offset;
    public ulong Length;
    public ulong Value;

    public static SentFrame ForStream(ulong streamId, ulong offset, ulong length, bool fin)
        => new() { Kind = SentFrameKind.Stream, StreamId = streamId, Offset = offset, Length = length, Fin = fin };

    public static SentFrame ForValue(SentFrameKind kind, ulong value, ulong streamId = 0)
        => new() { Kind = kind, Value = value, StreamId = streamId };
}

/// <summary>Where a packet writer records the frames it put into the packet being built.</summary>
internal interface ISentFrameSink
{
    void Record(in SentFrame frame);
}
