using AspNetQuicSteer.Quic.Connection;

namespace AspNetQuicSteer.Quic.Streams;

/// <summary>
/// Acknowledgment and loss of the frames this manager wrote (RFC 9000 §13.3): acknowledged data is
/// freed; lost data is resent (only the ranges not acknowledged since); lost control frames are queued
/// again only while still current.
/// </summary>
internal sealed partial class QuicStreamManager
{
    /// <summary>Whether the manager handles acknowledgment and loss of this kind of frame.</summary>
    public static bool Owns(SentFrameKind kind)
        => kind is SentFrameKind.Stream or SentFrameKind.ResetStream or SentFrameKind.StopSending
            or SentFrameKind.MaxData or SentFrameKind.MaxStreamData
            or SentFrameKind.MaxStreamsBidi or SentFrameKind.MaxStreamsUni
            or SentFrameKind.DataBlocked or SentFrameKind.StreamDataBlocked
            or SentFrameKind.StreamsBlockedBidi or SentFrameKind.StreamsBlockedUni;

    public void OnFrameAcknowledged(in SentFrame frame)
    {
        switch (frame.Kind)
        {
            case SentFrameKind.Stream:
                if (_streams.TryGetValue(frame.StreamId, out ManagedStream? stream) && stream.Send is { } send)
                {
                    // RFC 9000 §3.1: all data and the FIN acknowledged: Data Recvd.
                    if (send.OnAcknowledged(frame.Offset, frame.Length, frame.Fin))
                    {
                        Raise(QuicStreamEventKind.SendCompleted, stream.Id);
                    }

                    if (send.WriteBlocked && send.GetWritableCapacity(_options.MaxSendBufferPerStream) > 0)
                    {
                        send.WriteBlocked = false;
                        Raise(QuicStreamEventKind.Writable, stream.Id);
                    }

                    ReleaseIfComplete(stream);
                }

                break;

            case SentFrameKind.ResetStream:
                // RFC 9000 §3.1: RESET_STREAM acknowledged: Reset Recvd.
                if (_streams.TryGetValue(frame.StreamId, out stream) && stream.Send is { } resetSend && resetSend.OnResetAcknowledged())
                {
                    ReleaseIfComplete(stream);
                }

                break;

            default:
                // Control frames carry no state that an acknowledgment changes.
                break;
        }
    }

    public void OnFrameLost(in SentFrame frame)
    {
        ManagedStream? stream;
        switch (frame.Kind)
        {
            case SentFrameKind.Stream:
                if (_streams.TryGetValue(frame.StreamId, out stream) && stream.Send is { } send && send.OnLost(frame.Offset, frame.Length, frame.Fin))
                {
                    ScheduleRetransmit(stream);
                }

                break;

            case SentFrameKind.ResetStream:
                // RFC 9000 §13.3: RESET_STREAM is resent until acknowledged.
                if (_streams.TryGetValue(frame.StreamId, out stream) && stream.Send is { State: SendStreamState.ResetSent } resetSend)
                {
                    resetSend.ResetPending = true;
                    QueueControl(stream);
                }

                break;

            case SentFrameKind.StopSending:
                // RFC 9000 §13.3: STOP_SENDING is resent until the stream's receiving part ends (reset or all data).
                if (_streams.TryGetValue(frame.StreamId, out stream)
                    && stream.Receive is { ReadAborted: true, State: ReceiveStreamState.Recv or ReceiveStreamState.SizeKnown } stopReceive)
                {
                    stopReceive.StopSendingPending = true;
                    QueueControl(stream);
                }

                break;

            case SentFrameKind.MaxData:
                // RFC 9000 §13.3: resend the current limit; a lost older value was superseded by a newer frame.
                if (frame.Value == _localMaxData)
                {
                    _maxDataPending = true;
                }

                break;

            case SentFrameKind.MaxStreamData:
                // RFC 9000 §13.3: only while the receiving part is in Recv and the value is still the current one.
                if (_streams.TryGetValue(frame.StreamId, out stream)
                    && stream.Receive is { State: ReceiveStreamState.Recv, ReadAborted: false } receive
                    && receive.MaxStreamData == frame.Value)
                {
                    receive.MaxStreamDataPending = true;
                    QueueControl(stream);
                }

                break;

            case SentFrameKind.MaxStreamsBidi or SentFrameKind.MaxStreamsUni:
                ref StreamTypeLimits maxLimits = ref GetLimits(frame.Kind == SentFrameKind.MaxStreamsBidi);
                if (maxLimits.LocalMaxStreams == frame.Value)
                {
                    maxLimits.MaxStreamsPending = true;
                }

                break;

            case SentFrameKind.DataBlocked:
                // RFC 9000 §13.3: blocked frames are resent only while still blocked at that limit.
                if (frame.Value == _peerMaxData && _sentData >= _peerMaxData)
                {
                    _dataBlockedPending = true;
                }

                break;

            case SentFrameKind.StreamDataBlocked:
                if (_streams.TryGetValue(frame.StreamId, out stream)
                    && stream.Send is { IsStreamBlocked: true } blockedSend
                    && blockedSend.MaxStreamData == frame.Value)
                {
                    blockedSend.StreamDataBlockedPending = true;
                    QueueControl(stream);
                }

                break;

            case SentFrameKind.StreamsBlockedBidi or SentFrameKind.StreamsBlockedUni:
                ref StreamTypeLimits blockedLimits = ref GetLimits(frame.Kind == SentFrameKind.StreamsBlockedBidi);
                if (blockedLimits.PeerMaxStreams == frame.Value && blockedLimits.OpenRefused)
                {
                    blockedLimits.StreamsBlockedPending = true;
                }

                break;

            default:
                break;
        }
    }
}
