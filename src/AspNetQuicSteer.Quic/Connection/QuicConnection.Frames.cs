using System.Text;
using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Frames;
using AspNetQuicSteer.Quic.Packets;
using AspNetQuicSteer.Quic.TransportParameters;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Connection;

internal sealed partial class QuicConnection
{
    /// <summary>Upper bound on ACK ranges we read from one frame; more is legal but useless to recovery.</summary>
    private const int MaxAckRangesProcessed = 64;

    /// <summary>Reused for every ACK we write (the per-packet path allocates nothing).</summary>
    private readonly AckRange[] _ackRangeScratch = new AckRange[PacketNumberSpace.MaxAckRanges];

    /// <summary>CONNECTION_CLOSE reason, encoded once when the close starts.</summary>
    private byte[] _closeReason = [];

    /// <summary>
    /// Parses and applies every frame of a packet payload (RFC 9000 §12.4); returns whether the packet was
    /// ack-eliciting (§13.2.1). Frames of later issues' features (streams, flow control, CID management)
    /// are parsed and validated here so the packet is fully checked, and handled by the transport core.
    /// </summary>
    private bool ProcessFrames(TimeSpan now, PacketNumberSpace space, EncryptionLevel level, QuicPacketType packetType, ReadOnlySpan<byte> payload, out bool probingOnly)
    {
        probingOnly = false;
        var frames = new FrameReader(payload, level, datagramFramesAccepted: false);
        while (frames.TryReadFrameType(out ulong frameType))
        {
            ref QuicReader reader = ref frames.Reader;
            switch (FrameTypes.Normalize(frameType))
            {
                case FrameType.Padding:
                    PaddingFrame.Parse(ref reader, frameType);
                    break;
                case FrameType.Ping:
                    PingFrame.Parse(ref reader, frameType);
                    break;
                case FrameType.Ack:
                case FrameType.AckEcn:
                    HandleAckFrame(now, space, AckFrame.Parse(ref reader, frameType));
                    break;
                case FrameType.Crypto:
                    CryptoFrame crypto = CryptoFrame.Parse(ref reader, frameType);
                    space.CryptoReceive.Insert(crypto.Offset, crypto.Data);
                    DeliverCryptoData(space, level);
                    break;
                case FrameType.ConnectionCloseTransport:
                case FrameType.ConnectionCloseApplication:
                    ConnectionCloseFrame close = ConnectionCloseFrame.Parse(ref reader, frameType);
                    OnPeerConnectionClose(now, close.IsApplicationError, close.ErrorCode, close.TriggeringFrameType, DecodeReason(close.ReasonPhrase));
                    probingOnly = true;
                    return false;
                case FrameType.HandshakeDone:
                    HandshakeDoneFrame.Parse(ref reader, frameType);
                    if (!IsClient)
                    {
                        // RFC 9000 §19.20: a server receiving HANDSHAKE_DONE treats it as PROTOCOL_VIOLATION.
                        throw new QuicProtocolException(TransportErrorCode.ProtocolViolation, "HANDSHAKE_DONE sent by a client.", frameType);
                    }

                    // RFC 9001 §4.1.2: the client's handshake is confirmed when HANDSHAKE_DONE arrives.
                    ConfirmHandshake();
                    break;
                case FrameType.NewToken:
                    NewTokenFrame newToken = NewTokenFrame.Parse(ref reader, frameType);
                    if (!IsClient)
                    {
                        // RFC 9000 §19.7: a server receiving NEW_TOKEN treats it as PROTOCOL_VIOLATION.
                        throw new QuicProtocolException(TransportErrorCode.ProtocolViolation, "NEW_TOKEN sent by a client.", frameType);
                    }

                    OnNewToken(newToken.Token);
                    break;
                case FrameType.Stream:
                    _streams.OnStreamFrame(StreamFrame.Parse(ref reader, frameType));
                    break;
                case FrameType.ResetStream:
                    _streams.OnResetStreamFrame(ResetStreamFrame.Parse(ref reader, frameType));
                    break;
                case FrameType.StopSending:
                    _streams.OnStopSendingFrame(StopSendingFrame.Parse(ref reader, frameType));
                    break;
                case FrameType.MaxData:
                    _streams.OnMaxDataFrame(MaxDataFrame.Parse(ref reader, frameType));
                    break;
                case FrameType.MaxStreamData:
                    _streams.OnMaxStreamDataFrame(MaxStreamDataFrame.Parse(ref reader, frameType));
                    break;
                case FrameType.MaxStreamsBidi:
                case FrameType.MaxStreamsUni:
                    _streams.OnMaxStreamsFrame(MaxStreamsFrame.Parse(ref reader, frameType));
                    break;
                case FrameType.DataBlocked:
                    _streams.OnDataBlockedFrame(DataBlockedFrame.Parse(ref reader, frameType));
                    break;
                case FrameType.StreamDataBlocked:
                    _streams.OnStreamDataBlockedFrame(StreamDataBlockedFrame.Parse(ref reader, frameType));
                    break;
                case FrameType.StreamsBlockedBidi:
                case FrameType.StreamsBlockedUni:
                    _streams.OnStreamsBlockedFrame(StreamsBlockedFrame.Parse(ref reader, frameType));
                    break;
                case FrameType.NewConnectionId:
                    OnNewConnectionId(NewConnectionIdFrame.Parse(ref reader, frameType), frameType);
                    break;
                case FrameType.RetireConnectionId:
                    OnRetireConnectionId(RetireConnectionIdFrame.Parse(ref reader, frameType).SequenceNumber, frameType);
                    break;
                case FrameType.PathChallenge:
                    OnPathChallenge(PathChallengeFrame.Parse(ref reader, frameType).Data);
                    break;
                case FrameType.PathResponse:
                    OnPathResponse(PathResponseFrame.Parse(ref reader, frameType).Data);
                    break;
                default:
                    throw QuicProtocolException.FrameEncoding($"Unhandled frame type 0x{frameType:x}.", frameType);
            }
        }

        probingOnly = frames.IsProbingOnly;
        return frames.IsAckEliciting;
    }

    private void HandleAckFrame(TimeSpan now, PacketNumberSpace space, in AckFrame ack)
    {
        Span<AckRange> ranges = stackalloc AckRange[MaxAckRangesProcessed];
        int count = 0;
        foreach (AckRange range in ack.GetRanges())
        {
            if (count == ranges.Length) break;
            ranges[count++] = range;
        }

        // RFC 9000 §19.3: ack delay is scaled by the peer's ack_delay_exponent (default 3) and is in microseconds.
        int exponent = (int)(PeerTransportParameters?.AckDelayExponent ?? 3);
        ulong micros = Math.Min(ack.GetAckDelay(exponent), (ulong)TimeSpan.FromHours(1).TotalMicroseconds);
        TimeSpan ackDelay = TimeSpan.FromMicroseconds(micros);
        OnAckReceived(now, space, ack.LargestAcknowledged, ackDelay, ranges[..count]);
    }

    /// <summary>Writes an ACK for the space; returns the largest packet number it acknowledged, or null if none fit.</summary>
    private ulong? WriteAck(ref QuicWriter writer, PacketNumberSpace space, TimeSpan now)
    {
        RangeSet received = space.ReceivedPackets;
        Span<AckRange> ranges = _ackRangeScratch.AsSpan(0, received.Count);
        for (int i = 0; i < received.Count; i++)
        {
            // RangeSet is ascending half-open; ACK ranges are written descending and inclusive.
            (ulong start, ulong end) = received[received.Count - 1 - i];
            ranges[i] = new AckRange(start, end - 1);
        }

        ulong ackDelay = 0;
        if (space.Id == PacketNumberSpaceId.Application)
        {
            // RFC 9000 §13.2.5: the delay since the largest acknowledged packet arrived, scaled by our exponent.
            TimeSpan delay = now - space.LargestReceivedTime;
            ackDelay = (ulong)Math.Max(0, delay.Ticks / 10) >> _options.AckDelayExponent;
        }

        // RFC 9000 §13.2.4: when space is short, report the newest ranges and drop the oldest.
        int fit = AckFrame.GetRangeCountThatFits(ranges, ackDelay, null, writer.Remaining);
        if (fit <= 0) return null;
        new AckFrame(ranges[..fit], ackDelay).Write(ref writer);
        space.AckPending = false;
        space.AckDeadline = null;
        space.UnackedAckElicitingCount = 0;
        return ranges[0].Largest;
    }

    private static void WriteCrypto(ref QuicWriter writer, ulong offset, ReadOnlySpan<byte> data)
        => new CryptoFrame(offset, data).Write(ref writer);

    private static void WritePing(ref QuicWriter writer) => default(PingFrame).Write(ref writer);

    private static void WriteHandshakeDone(ref QuicWriter writer) => default(HandshakeDoneFrame).Write(ref writer);

    private void WriteConnectionClose(ref QuicWriter writer, PacketNumberSpace space)
    {
        QuicConnectionError error = CloseError!;
        ReadOnlySpan<byte> reason = _closeReason;

        ConnectionCloseFrame frame;
        if (error.IsApplicationError && space.Id != PacketNumberSpaceId.Application)
        {
            // RFC 9000 §10.2.3: an application close in Initial/Handshake packets becomes a transport
            // CONNECTION_CLOSE with APPLICATION_ERROR and no reason, so nothing about the application leaks.
            frame = new ConnectionCloseFrame(false, (ulong)ApplicationErrorInHandshakeSpaces, 0, default);
        }
        else if (error.IsApplicationError)
        {
            frame = new ConnectionCloseFrame(true, error.ErrorCode, 0, reason);
        }
        else
        {
            frame = new ConnectionCloseFrame(false, error.ErrorCode, error.FrameType, reason);
        }

        if (frame.GetLength() <= writer.Remaining) frame.Write(ref writer);
    }

    private static string DecodeReason(ReadOnlySpan<byte> reason)
        => reason.IsEmpty ? string.Empty : Encoding.UTF8.GetString(reason[..Math.Min(reason.Length, 256)]);
}
