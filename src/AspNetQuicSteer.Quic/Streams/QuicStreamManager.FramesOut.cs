using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Frames;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Streams;

/// <summary>
/// Filling a 1-RTT or 0-RTT packet: control frames first, then lost stream data, then new stream data in
/// round-robin order, each frame recorded in the connection's <see cref="ISentFrameSink"/>. Allocation-free.
/// </summary>
internal sealed partial class QuicStreamManager
{
    /// <summary>
    /// Something is queued: a control frame, lost data, or new data with credit (or a bare FIN). May
    /// rarely be true when <see cref="WriteFrames"/> then finds only stale entries to drop.
    /// </summary>
    public bool HasDataToSend
        => _maxDataPending
            || _dataBlockedPending
            || _bidi.MaxStreamsPending || _uni.MaxStreamsPending
            || _bidi.StreamsBlockedPending || _uni.StreamsBlockedPending
            || _controlQueue.Count > 0
            || _retransmitQueue.Count > 0
            || _sendQueue.Count > 0;

    /// <summary>
    /// Writes pending stream-related frames into the rest of <paramref name="writer"/>: MAX_DATA,
    /// MAX_STREAMS, DATA_BLOCKED, STREAMS_BLOCKED, per-stream RESET_STREAM / STOP_SENDING /
    /// MAX_STREAM_DATA / STREAM_DATA_BLOCKED, then retransmissions, then new STREAM data round-robin.
    /// <paramref name="now"/> and <paramref name="smoothedRtt"/> drive receive-window auto-tuning.
    /// Returns true when anything (all of it ack-eliciting, RFC 9002 §2) was written.
    /// </summary>
    public bool WriteFrames(ref QuicWriter writer, ISentFrameSink sink, TimeSpan now, TimeSpan smoothedRtt)
    {
        ArgumentNullException.ThrowIfNull(sink);
        bool wrote = WriteConnectionControlFrames(ref writer, sink, now, smoothedRtt);
        wrote |= WriteStreamControlFrames(ref writer, sink, now, smoothedRtt);
        wrote |= WriteRetransmissions(ref writer, sink);
        if (WriteNewData(ref writer, sink))
        {
            wrote = true;

            // Data that just used up a credit queued DATA_BLOCKED / STREAM_DATA_BLOCKED: send it alongside.
            if (_dataBlockedPending || _controlQueue.Count > 0)
            {
                WriteConnectionControlFrames(ref writer, sink, now, smoothedRtt);
                WriteStreamControlFrames(ref writer, sink, now, smoothedRtt);
            }
        }

        return wrote;
    }

    private bool WriteConnectionControlFrames(ref QuicWriter writer, ISentFrameSink sink, TimeSpan now, TimeSpan smoothedRtt)
    {
        bool wrote = false;
        if (_maxDataPending)
        {
            var frame = new MaxDataFrame(ComputeMaxData(now, smoothedRtt, out ulong window));
            if (frame.GetLength() <= writer.Remaining)
            {
                CommitMaxData(frame.MaximumData, window, now);
                frame.Write(ref writer);
                sink.Record(SentFrame.ForValue(SentFrameKind.MaxData, frame.MaximumData));
                wrote = true;
            }
        }

        wrote |= WriteMaxStreams(ref writer, sink, ref _bidi, bidirectional: true);
        wrote |= WriteMaxStreams(ref writer, sink, ref _uni, bidirectional: false);

        if (_dataBlockedPending)
        {
            // RFC 9000 §19.12: only while still blocked at that limit.
            if (_dataBlockedLimit != _peerMaxData || _sentData < _peerMaxData)
            {
                _dataBlockedPending = false;
            }
            else
            {
                var frame = new DataBlockedFrame(_peerMaxData);
                if (frame.GetLength() <= writer.Remaining)
                {
                    frame.Write(ref writer);
                    sink.Record(SentFrame.ForValue(SentFrameKind.DataBlocked, frame.MaximumData));
                    _dataBlockedPending = false;
                    wrote = true;
                }
            }
        }

        wrote |= WriteStreamsBlocked(ref writer, sink, ref _bidi, bidirectional: true);
        wrote |= WriteStreamsBlocked(ref writer, sink, ref _uni, bidirectional: false);
        return wrote;
    }

    private static bool WriteMaxStreams(ref QuicWriter writer, ISentFrameSink sink, ref StreamTypeLimits limits, bool bidirectional)
    {
        if (!limits.MaxStreamsPending)
        {
            return false;
        }

        var frame = new MaxStreamsFrame(bidirectional, limits.LocalMaxStreams);
        if (frame.GetLength() > writer.Remaining)
        {
            return false;
        }

        frame.Write(ref writer);
        sink.Record(SentFrame.ForValue(bidirectional ? SentFrameKind.MaxStreamsBidi : SentFrameKind.MaxStreamsUni, frame.MaximumStreams));
        limits.MaxStreamsPending = false;
        return true;
    }

    private static bool WriteStreamsBlocked(ref QuicWriter writer, ISentFrameSink sink, ref StreamTypeLimits limits, bool bidirectional)
    {
        if (!limits.StreamsBlockedPending)
        {
            return false;
        }

        // RFC 9000 §19.14: only while the limit it reports is still the current one.
        if (limits.StreamsBlockedLimit != limits.PeerMaxStreams)
        {
            limits.StreamsBlockedPending = false;
            return false;
        }

        var frame = new StreamsBlockedFrame(bidirectional, limits.PeerMaxStreams);
        if (frame.GetLength() > writer.Remaining)
        {
            return false;
        }

        frame.Write(ref writer);
        sink.Record(SentFrame.ForValue(bidirectional ? SentFrameKind.StreamsBlockedBidi : SentFrameKind.StreamsBlockedUni, frame.MaximumStreams));
        limits.StreamsBlockedPending = false;
        return true;
    }

    private bool WriteStreamControlFrames(ref QuicWriter writer, ISentFrameSink sink, TimeSpan now, TimeSpan smoothedRtt)
    {
        bool wrote = false;
        int count = _controlQueue.Count;
        for (int i = 0; i < count; i++)
        {
            ManagedStream stream = _controlQueue.Dequeue();
            stream.InControlQueue = false;
            if (stream.Released)
            {
                continue;
            }

            bool fitted = WriteStreamControl(ref writer, sink, stream, now, smoothedRtt, ref wrote);
            if (stream.HasPendingControl)
            {
                QueueControl(stream);
            }

            if (!fitted)
            {
                break;
            }
        }

        return wrote;
    }

    /// <summary>Writes one stream's pending control frames; false when one did not fit.</summary>
    private bool WriteStreamControl(ref QuicWriter writer, ISentFrameSink sink, ManagedStream stream, TimeSpan now, TimeSpan smoothedRtt, ref bool wrote)
    {
        StreamSendSide? send = stream.Send;
        StreamReceiveSide? receive = stream.Receive;
        if (send is not null && send.ResetPending)
        {
            // RFC 9000 §19.4: the final size is the amount of data sent (§4.5).
            var frame = new ResetStreamFrame(stream.Id, send.ResetErrorCode, send.SentOffset);
            if (frame.GetLength() > writer.Remaining)
            {
                return false;
            }

            frame.Write(ref writer);
            sink.Record(SentFrame.ForValue(SentFrameKind.ResetStream, send.ResetErrorCode, stream.Id));
            send.ResetPending = false;
            wrote = true;
        }

        if (receive is not null && receive.StopSendingPending)
        {
            // RFC 9000 §3.5: pointless once all data or a reset arrived.
            if (receive.State is ReceiveStreamState.Recv or ReceiveStreamState.SizeKnown)
            {
                var frame = new StopSendingFrame(stream.Id, receive.StopSendingErrorCode);
                if (frame.GetLength() > writer.Remaining)
                {
                    return false;
                }

                frame.Write(ref writer);
                sink.Record(SentFrame.ForValue(SentFrameKind.StopSending, receive.StopSendingErrorCode, stream.Id));
                wrote = true;
            }

            receive.StopSendingPending = false;
        }

        if (receive is not null && receive.MaxStreamDataPending)
        {
            // RFC 9000 §3.2: no MAX_STREAM_DATA once the final size is known.
            if (receive.State == ReceiveStreamState.Recv && !receive.ReadAborted)
            {
                var frame = new MaxStreamDataFrame(stream.Id, ComputeMaxStreamData(receive, now, smoothedRtt, out ulong window));
                if (frame.GetLength() > writer.Remaining)
                {
                    return false;
                }

                CommitMaxStreamData(receive, frame.MaximumStreamData, window, now);
                frame.Write(ref writer);
                sink.Record(SentFrame.ForValue(SentFrameKind.MaxStreamData, frame.MaximumStreamData, stream.Id));
                wrote = true;
            }

            receive.MaxStreamDataPending = false;
        }

        if (send is not null && send.StreamDataBlockedPending)
        {
            // RFC 9000 §19.13: only while still blocked at the limit it reports.
            if (send.IsStreamBlocked && send.BlockedLimit == send.MaxStreamData)
            {
                var frame = new StreamDataBlockedFrame(stream.Id, send.MaxStreamData);
                if (frame.GetLength() > writer.Remaining)
                {
                    return false;
                }

                frame.Write(ref writer);
                sink.Record(SentFrame.ForValue(SentFrameKind.StreamDataBlocked, send.MaxStreamData, stream.Id));
                wrote = true;
            }

            send.StreamDataBlockedPending = false;
        }

        return true;
    }

    /// <summary>Lost stream data goes before new data; it needs no new flow-control credit (already counted, RFC 9000 §4.1).</summary>
    private bool WriteRetransmissions(ref QuicWriter writer, ISentFrameSink sink)
    {
        bool wrote = false;
        bool progress = true;
        while (progress && _retransmitQueue.Count > 0)
        {
            progress = false;
            int count = _retransmitQueue.Count;
            for (int i = 0; i < count; i++)
            {
                ManagedStream stream = _retransmitQueue.Peek();
                StreamSendSide? send = stream.Send;
                if (stream.Released || send is null || !send.TryPeekRetransmission(out ulong offset, out bool hasData))
                {
                    _retransmitQueue.Dequeue();
                    stream.InRetransmitQueue = false;
                    continue;
                }

                int max = StreamFramePacking.GetMaxDataLength(stream.Id, offset, writer.Remaining);
                if (max < 0 || (max == 0 && hasData))
                {
                    // Packet full: the stream keeps its place at the head for the next packet.
                    return wrote;
                }

                _retransmitQueue.Dequeue();
                stream.InRetransmitQueue = false;
                send.TryGetRetransmission(max, out offset, out ReadOnlySpan<byte> data, out bool fin);
                WriteStream(ref writer, sink, stream.Id, offset, data, fin);
                send.OnSent(offset, data.Length, fin);
                wrote = progress = true;
                if (send.HasRetransmission)
                {
                    ScheduleRetransmit(stream);
                }
            }
        }

        return wrote;
    }

    /// <summary>New data, one frame per stream per turn (round-robin), within stream and connection credit (RFC 9000 §4.1).</summary>
    private bool WriteNewData(ref QuicWriter writer, ISentFrameSink sink)
    {
        bool wrote = false;
        bool progress = true;
        while (progress && _sendQueue.Count > 0)
        {
            progress = false;
            int count = _sendQueue.Count;
            for (int i = 0; i < count; i++)
            {
                ManagedStream stream = _sendQueue.Peek();
                StreamSendSide? send = stream.Send;
                if (stream.Released || send is null || !send.HasNewData)
                {
                    _sendQueue.Dequeue();
                    stream.InSendQueue = false;
                    continue;
                }

                ulong pending = send.WriteOffset - send.SentOffset;
                ulong streamCredit = send.MaxStreamData > send.SentOffset ? send.MaxStreamData - send.SentOffset : 0;
                ulong connectionCredit = _peerMaxData - _sentData;
                if (pending > 0 && (streamCredit == 0 || connectionCredit == 0))
                {
                    _sendQueue.Dequeue();
                    stream.InSendQueue = false;
                    ParkBlocked(stream, send);
                    continue;
                }

                int max = StreamFramePacking.GetMaxDataLength(stream.Id, send.SentOffset, writer.Remaining);
                if (max < 0 || (max == 0 && pending > 0))
                {
                    // Packet full: the stream keeps its place at the head for the next packet.
                    return wrote;
                }

                _sendQueue.Dequeue();
                stream.InSendQueue = false;
                int allowed = (int)Math.Min((ulong)max, Math.Min(streamCredit, connectionCredit));
                ulong offset = send.SentOffset;
                ReadOnlySpan<byte> data = send.GetNewData(allowed, out bool fin);
                WriteStream(ref writer, sink, stream.Id, offset, data, fin);
                _sentData += send.OnSent(offset, data.Length, fin);
                wrote = progress = true;
                ScheduleSend(stream);
            }
        }

        return wrote;
    }

    private static void WriteStream(ref QuicWriter writer, ISentFrameSink sink, ulong streamId, ulong offset, ReadOnlySpan<byte> data, bool fin)
    {
        StreamFrame.Write(ref writer, streamId, offset, data, fin, hasLength: true);
        sink.Record(SentFrame.ForStream(streamId, offset, (ulong)data.Length, fin));
    }

    /// <summary>Puts a stream with new data in the round-robin queue, or parks it if it lacks credit.</summary>
    private void ScheduleSend(ManagedStream stream)
    {
        StreamSendSide? send = stream.Send;
        if (stream.InSendQueue || stream.Released || send is null || !send.HasNewData)
        {
            return;
        }

        if (send.WriteOffset > send.SentOffset && (send.SentOffset >= send.MaxStreamData || _sentData >= _peerMaxData))
        {
            ParkBlocked(stream, send);
            return;
        }

        stream.InSendQueue = true;
        _sendQueue.Enqueue(stream);
    }

    /// <summary>
    /// A stream with data but no credit: stream-blocked streams wait for MAX_STREAM_DATA (which reschedules
    /// them), connection-blocked ones wait in a separate queue for MAX_DATA. Blocked frames are queued.
    /// </summary>
    private void ParkBlocked(ManagedStream stream, StreamSendSide send)
    {
        if (send.SentOffset >= send.MaxStreamData)
        {
            MarkStreamBlocked(stream, send);
            return;
        }

        MarkConnectionBlocked();
        stream.InSendQueue = true;
        _connectionBlockedQueue.Enqueue(stream);
    }

    private void ReleaseConnectionBlockedStreams()
    {
        int count = _connectionBlockedQueue.Count;
        for (int i = 0; i < count; i++)
        {
            ManagedStream stream = _connectionBlockedQueue.Dequeue();
            stream.InSendQueue = false;
            ScheduleSend(stream);
        }
    }

    private void ScheduleRetransmit(ManagedStream stream)
    {
        if (!stream.InRetransmitQueue && !stream.Released)
        {
            stream.InRetransmitQueue = true;
            _retransmitQueue.Enqueue(stream);
        }
    }

    private void QueueControl(ManagedStream stream)
    {
        if (!stream.InControlQueue && !stream.Released)
        {
            stream.InControlQueue = true;
            _controlQueue.Enqueue(stream);
        }
    }
}
