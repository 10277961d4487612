using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Frames;

/// <summary>Per-type facts from RFC 9000 §12.4 Table 3 (and RFC 9221 §4 for DATAGRAM).</summary>
internal static class FrameTypes
{
    /// <summary>RFC 9000 §19.8: STREAM frame types are 0b00001XXX.</summary>
    public static bool IsStream(ulong frameType) => (frameType & ~0x07UL) == 0x08;

    /// <summary>True for every type this stack understands.</summary>
    public static bool IsKnown(ulong frameType) => frameType <= 0x1e || frameType is 0x30 or 0x31;

    /// <summary>Maps the eight STREAM types to <see cref="FrameType.Stream"/>; other known types map to themselves.</summary>
    public static FrameType Normalize(ulong frameType) => IsStream(frameType) ? FrameType.Stream : (FrameType)frameType;

    /// <summary>
    /// RFC 9000 §12.4 Table 3 "Pkts" column: whether a frame of this (known) type may appear in a packet
    /// at <paramref name="level"/>. Every frame may appear in 1-RTT. DATAGRAM: 0-RTT and 1-RTT only
    /// (RFC 9221 §4).
    /// </summary>
    public static bool IsAllowed(ulong frameType, EncryptionLevel level)
    {
        if (level == EncryptionLevel.OneRtt)
        {
            return true;
        }

        switch (Normalize(frameType))
        {
            // IH01
            case FrameType.Padding:
            case FrameType.Ping:
                return true;

            // IH_1: ACK and CRYPTO are never in 0-RTT (§17.2.3: 0-RTT carries no acknowledgments).
            case FrameType.Ack:
            case FrameType.AckEcn:
            case FrameType.Crypto:
                return level != EncryptionLevel.ZeroRtt;

            // ih01: only the transport CONNECTION_CLOSE (0x1c) in Initial/Handshake.
            case FrameType.ConnectionCloseTransport:
                return true;
            case FrameType.ConnectionCloseApplication:
                return level == EncryptionLevel.ZeroRtt;

            // ___1: 1-RTT only.
            case FrameType.NewToken:
            case FrameType.PathResponse:
            case FrameType.HandshakeDone:
                return false;

            // __01 and DATAGRAM: 0-RTT or 1-RTT.
            default:
                return level == EncryptionLevel.ZeroRtt;
        }
    }

    /// <summary>
    /// RFC 9000 §13.2.1 (Table 3 "N"): every frame is ack-eliciting except ACK, PADDING and
    /// CONNECTION_CLOSE.
    /// </summary>
    public static bool IsAckEliciting(ulong frameType) => Normalize(frameType) is not
        (FrameType.Ack or FrameType.AckEcn or FrameType.Padding
        or FrameType.ConnectionCloseTransport or FrameType.ConnectionCloseApplication);

    /// <summary>
    /// RFC 9000 §9.1 (Table 3 "P"): PATH_CHALLENGE, PATH_RESPONSE, NEW_CONNECTION_ID and PADDING are
    /// probing frames; a packet holding only those is a probing packet.
    /// </summary>
    public static bool IsProbing(ulong frameType) => Normalize(frameType) is
        FrameType.PathChallenge or FrameType.PathResponse or FrameType.NewConnectionId or FrameType.Padding;

    /// <summary>RFC 9002 §2 / RFC 9000 Table 3 "C": ACK frames are not congestion controlled; a packet is in flight if it has anything but ACKs.</summary>
    public static bool CountsInFlight(ulong frameType) => Normalize(frameType) is not (FrameType.Ack or FrameType.AckEcn);

    /// <summary>RFC 9000 §16: the minimal varint length of a frame type, i.e. the size its Write emits.</summary>
    public static int GetTypeLength(ulong frameType) => QuicVarInt.GetLength(frameType);
}
