using AspNetQuicSteer.Quic.Frames;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Streams;

/// <summary>Received stream and flow-control frames (RFC 9000 §19.4-§19.14). Peer faults throw <see cref="QuicProtocolException"/>.</summary>
internal sealed partial class QuicStreamManager
{
    /// <summary>The limit given in the peer's last DATA_BLOCKED (diagnostics; RFC 9000 §19.12 needs no action).</summary>
    public ulong PeerDataBlockedLimit { get; private set; }

    /// <summary>STREAM (RFC 9000 §19.8): reassembles data, enforcing final size (§4.5) and flow control (§4.1).</summary>
    public void OnStreamFrame(in StreamFrame frame)
    {
        ulong frameType = frame.GetFrameType();
        ulong id = frame.StreamId;

        // RFC 9000 §19.8: STREAM on a send-only stream (one we opened as unidirectional) is a STREAM_STATE_ERROR.
        if (IsSendOnly(id))
        {
            throw new QuicProtocolException(TransportErrorCode.StreamStateError, $"STREAM frame on our unidirectional stream {id}.", frameType);
        }

        ManagedStream? stream = GetStreamForFrame(id, frameType);
        if (stream is null)
        {
            return;
        }

        StreamReceiveSide receive = stream.Receive!;
        ulong end = frame.EndOffset;
        CheckFinalSize(receive, end, frame.Fin, frameType);
        ConsumeReceiveCredit(receive, end, frameType);
        if (frame.Fin && !receive.FinalSizeKnown)
        {
            receive.SetFinalSize(end);
        }

        receive.Store(frame.Offset, frame.Data);
        AfterReceive(stream, receive);
    }

    /// <summary>RESET_STREAM (RFC 9000 §19.4): the peer abandoned its sending part; data is discarded, the error surfaced.</summary>
    public void OnResetStreamFrame(in ResetStreamFrame frame)
    {
        const ulong frameType = (ulong)FrameType.ResetStream;
        ulong id = frame.StreamId;

        // RFC 9000 §19.4: RESET_STREAM for a send-only stream is a STREAM_STATE_ERROR.
        if (IsSendOnly(id))
        {
            throw new QuicProtocolException(TransportErrorCode.StreamStateError, $"RESET_STREAM on our unidirectional stream {id}.", frameType);
        }

        ManagedStream? stream = GetStreamForFrame(id, frameType);
        if (stream is null)
        {
            return;
        }

        StreamReceiveSide receive = stream.Receive!;

        // RFC 9000 §4.5: the final size may not change, nor be below data already received.
        if (receive.FinalSizeKnown && frame.FinalSize != receive.FinalSize)
        {
            throw new QuicProtocolException(TransportErrorCode.FinalSizeError, $"RESET_STREAM final size {frame.FinalSize} differs from {receive.FinalSize}.", frameType);
        }

        if (frame.FinalSize < receive.HighestReceived)
        {
            throw new QuicProtocolException(TransportErrorCode.FinalSizeError, $"RESET_STREAM final size {frame.FinalSize} below data received ({receive.HighestReceived}).", frameType);
        }

        // RFC 9000 §4.5: the final size counts against flow control like data (§4.1).
        ConsumeReceiveCredit(receive, frame.FinalSize, frameType);
        if (receive.OnReset(frame.ApplicationErrorCode, frame.FinalSize))
        {
            // The discarded bytes are returned to the connection window (RFC 9000 §4.5).
            ReleaseConnectionCredit(receive, receive.ReadOffset);
            if (receive.State == ReceiveStreamState.ResetRecvd)
            {
                Raise(QuicStreamEventKind.PeerReset, id, frame.ApplicationErrorCode);
            }

            ReleaseIfComplete(stream);
        }
    }

    /// <summary>STOP_SENDING (RFC 9000 §19.5): answer with RESET_STREAM carrying the peer's code (§3.5) and tell the app.</summary>
    public void OnStopSendingFrame(in StopSendingFrame frame)
    {
        const ulong frameType = (ulong)FrameType.StopSending;
        ulong id = frame.StreamId;

        // RFC 9000 §19.5: STOP_SENDING for a receive-only stream is a STREAM_STATE_ERROR.
        if (IsReceiveOnly(id))
        {
            throw new QuicProtocolException(TransportErrorCode.StreamStateError, $"STOP_SENDING on the peer's unidirectional stream {id}.", frameType);
        }

        ManagedStream? stream = GetStreamForFrame(id, frameType);
        if (stream is null)
        {
            return;
        }

        StreamSendSide send = stream.Send!;
        send.StopSendingErrorCode ??= frame.ApplicationErrorCode;

        // RFC 9000 §3.5: an endpoint that receives STOP_SENDING sends RESET_STREAM (from Ready, Send or
        // Data Sent) and SHOULD copy the error code.
        if (send.Reset(frame.ApplicationErrorCode))
        {
            QueueControl(stream);
            Raise(QuicStreamEventKind.PeerStopSending, id, frame.ApplicationErrorCode);
        }
    }

    /// <summary>MAX_DATA (RFC 9000 §19.9): the peer's connection-level credit; smaller values are ignored (§4.1).</summary>
    public void OnMaxDataFrame(in MaxDataFrame frame)
    {
        if (frame.MaximumData <= _peerMaxData)
        {
            return;
        }

        _peerMaxData = frame.MaximumData;
        _dataBlockedPending = false;
        ReleaseConnectionBlockedStreams();
    }

    /// <summary>MAX_STREAM_DATA (RFC 9000 §19.10): the peer's per-stream credit; smaller values are ignored (§4.1).</summary>
    public void OnMaxStreamDataFrame(in MaxStreamDataFrame frame)
    {
        const ulong frameType = (ulong)FrameType.MaxStreamData;
        ulong id = frame.StreamId;

        // RFC 9000 §19.10: MAX_STREAM_DATA for a receive-only stream is a STREAM_STATE_ERROR.
        if (IsReceiveOnly(id))
        {
            throw new QuicProtocolException(TransportErrorCode.StreamStateError, $"MAX_STREAM_DATA on the peer's unidirectional stream {id}.", frameType);
        }

        ManagedStream? stream = GetStreamForFrame(id, frameType);
        if (stream is not null && stream.Send!.RaiseMaxStreamData(frame.MaximumStreamData))
        {
            stream.Send.StreamDataBlockedPending = false;
            ScheduleSend(stream);
        }
    }

    /// <summary>MAX_STREAMS (RFC 9000 §19.11): how many streams we may open; smaller values are ignored (§4.6).</summary>
    public void OnMaxStreamsFrame(in MaxStreamsFrame frame)
    {
        // The 2^60 bound (FRAME_ENCODING_ERROR, §19.11) is enforced by MaxStreamsFrame.Parse.
        RaisePeerMaxStreams(frame.Bidirectional, frame.MaximumStreams);
    }

    /// <summary>DATA_BLOCKED (RFC 9000 §19.12): informational; our MAX_DATA schedule already follows consumption.</summary>
    public void OnDataBlockedFrame(in DataBlockedFrame frame)
    {
        PeerDataBlockedLimit = Math.Max(PeerDataBlockedLimit, frame.MaximumData);
    }

    /// <summary>STREAM_DATA_BLOCKED (RFC 9000 §19.13): validated (it may open a peer stream, §3.2), otherwise informational.</summary>
    public void OnStreamDataBlockedFrame(in StreamDataBlockedFrame frame)
    {
        const ulong frameType = (ulong)FrameType.StreamDataBlocked;
        ulong id = frame.StreamId;

        // RFC 9000 §19.13: STREAM_DATA_BLOCKED for a send-only stream is a STREAM_STATE_ERROR.
        if (IsSendOnly(id))
        {
            throw new QuicProtocolException(TransportErrorCode.StreamStateError, $"STREAM_DATA_BLOCKED on our unidirectional stream {id}.", frameType);
        }

        _ = GetStreamForFrame(id, frameType);
    }

    /// <summary>STREAMS_BLOCKED (RFC 9000 §19.14): informational; MAX_STREAMS is raised as peer streams close.</summary>
    public void OnStreamsBlockedFrame(in StreamsBlockedFrame frame)
    {
        // RFC 9000 §19.14: values above 2^60 are rejected by StreamsBlockedFrame.Parse (FRAME_ENCODING_ERROR).
        ref StreamTypeLimits limits = ref GetLimits(frame.Bidirectional);
        limits.PeerReportedBlockedAt = Math.Max(limits.PeerReportedBlockedAt, frame.MaximumStreams);
    }

    /// <summary>A locally initiated unidirectional stream: we only send on it.</summary>
    private bool IsSendOnly(ulong id) => StreamId.IsUnidirectional(id) && StreamId.IsLocallyInitiated(id, _isServer);

    /// <summary>A peer-initiated unidirectional stream: we only receive on it.</summary>
    private bool IsReceiveOnly(ulong id) => StreamId.IsUnidirectional(id) && !StreamId.IsLocallyInitiated(id, _isServer);

    /// <summary>RFC 9000 §4.5: final size rules for a STREAM frame ending at <paramref name="end"/>.</summary>
    private static void CheckFinalSize(StreamReceiveSide receive, ulong end, bool fin, ulong frameType)
    {
        if (receive.FinalSizeKnown)
        {
            if (end > receive.FinalSize)
            {
                throw new QuicProtocolException(TransportErrorCode.FinalSizeError, $"Data up to {end} beyond the final size {receive.FinalSize}.", frameType);
            }

            if (fin && end != receive.FinalSize)
            {
                throw new QuicProtocolException(TransportErrorCode.FinalSizeError, $"Final size changed from {receive.FinalSize} to {end}.", frameType);
            }
        }
        else if (fin && end < receive.HighestReceived)
        {
            throw new QuicProtocolException(TransportErrorCode.FinalSizeError, $"Final size {end} below data already received ({receive.HighestReceived}).", frameType);
        }
    }

    /// <summary>
    /// RFC 9000 §4.1: the highest offset received counts against both the stream limit and the connection
    /// limit we advertised; exceeding either is a FLOW_CONTROL_ERROR.
    /// </summary>
    private void ConsumeReceiveCredit(StreamReceiveSide receive, ulong end, ulong frameType)
    {
        if (end > receive.MaxStreamData)
        {
            throw new QuicProtocolException(TransportErrorCode.FlowControlError, $"Stream data up to {end} exceeds the stream limit {receive.MaxStreamData}.", frameType);
        }

        ulong increase = end > receive.HighestReceived ? end - receive.HighestReceived : 0;
        if (increase > _localMaxData - _receivedData)
        {
            throw new QuicProtocolException(TransportErrorCode.FlowControlError, $"Connection data {_receivedData + increase} exceeds the limit {_localMaxData}.", frameType);
        }

        receive.AdvanceHighest(end);
        _receivedData += increase;
    }

    private void AfterReceive(ManagedStream stream, StreamReceiveSide receive)
    {
        // Bytes discarded because the app stopped reading go straight back to the connection window.
        if (receive.ReadAborted)
        {
            ReleaseConnectionCredit(receive, receive.ReadOffset);
            ReleaseIfComplete(stream);
            return;
        }

        if (!receive.ReadableSignaled && receive.HasReadableState)
        {
            receive.ReadableSignaled = true;
            Raise(QuicStreamEventKind.Readable, stream.Id);
        }
    }
}
