namespace AspNetQuicSteer.Quic.Streams;

/// <summary>
/// Flow control (RFC 9000 §4.1): credit we give (MAX_DATA / MAX_STREAM_DATA, with receive-window
/// auto-tuning) and credit we use (blocked detection, DATA_BLOCKED / STREAM_DATA_BLOCKED once per limit).
/// </summary>
internal sealed partial class QuicStreamManager
{
    /// <summary>The connection window is kept at least this multiple of a stream window (in eighths: 12/8 = 1.5).</summary>
    private const ulong ConnectionToStreamWindowEighths = 12;

    /// <summary>Returns bytes of a stream to the connection-level window once read or discarded, and schedules MAX_DATA.</summary>
    private void ReleaseConnectionCredit(StreamReceiveSide receive, ulong upTo)
    {
        if (upTo <= receive.ConnectionCreditReleased)
        {
            return;
        }

        _consumedData += upTo - receive.ConnectionCreditReleased;
        receive.ConnectionCreditReleased = upTo;

        // Send MAX_DATA once the app consumed half of the window (RFC 9000 §4.2 leaves the schedule to us,
        // but asks that updates go out early enough that the peer is not blocked).
        if (_localMaxData - _consumedData <= _connectionWindow / 2)
        {
            _maxDataPending = true;
        }
    }

    /// <summary>After a Read: schedules MAX_STREAM_DATA once half the stream window was consumed.</summary>
    private void CheckStreamWindow(ManagedStream stream, StreamReceiveSide receive)
    {
        // RFC 9000 §3.2: once the final size is known (Size Known) no MAX_STREAM_DATA is needed.
        if (receive.State != ReceiveStreamState.Recv || receive.ReadAborted || receive.MaxStreamDataPending)
        {
            return;
        }

        if (receive.MaxStreamData - receive.ReadOffset <= receive.Window / 2)
        {
            receive.MaxStreamDataPending = true;
            QueueControl(stream);
        }
    }

    /// <summary>
    /// The MAX_DATA value to send now. When the update was triggered by consumption, the window is first
    /// auto-tuned: if the previous update was less than two RTTs ago the peer is limited by our window rather
    /// than the network, so the window doubles (up to the configured maximum).
    /// </summary>
    private ulong ComputeMaxData(TimeSpan now, TimeSpan smoothedRtt, out ulong window)
    {
        window = _connectionWindow;
        if (_localMaxData - _consumedData > _connectionWindow / 2)
        {
            // A resend (the previous frame was lost): the current limit.
            return _localMaxData;
        }

        if (ShouldGrow(_lastMaxDataUpdate, now, smoothedRtt))
        {
            window = Math.Min(window * 2, _options.MaxConnectionReceiveWindow);
        }

        return Math.Max(_localMaxData, _consumedData + window);
    }

    private void CommitMaxData(ulong value, ulong window, TimeSpan now)
    {
        if (value != _localMaxData)
        {
            _lastMaxDataUpdate = now;
        }

        _connectionWindow = window;
        _localMaxData = value;
        _maxDataPending = false;
    }

    /// <summary>The MAX_STREAM_DATA value to send now, auto-tuning the stream window like <see cref="ComputeMaxData"/>.</summary>
    private ulong ComputeMaxStreamData(StreamReceiveSide receive, TimeSpan now, TimeSpan smoothedRtt, out ulong window)
    {
        window = receive.Window;
        if (receive.MaxStreamData - receive.ReadOffset > receive.Window / 2)
        {
            return receive.MaxStreamData;
        }

        if (ShouldGrow(receive.LastWindowUpdate, now, smoothedRtt))
        {
            window = Math.Min(window * 2, _options.MaxStreamReceiveWindow);
        }

        return Math.Max(receive.MaxStreamData, receive.ReadOffset + window);
    }

    private void CommitMaxStreamData(StreamReceiveSide receive, ulong value, ulong window, TimeSpan now)
    {
        if (value != receive.MaxStreamData)
        {
            receive.LastWindowUpdate = now;
        }

        if (window > receive.Window)
        {
            receive.Window = window;

            // A grown stream window is useless if the connection window stays smaller; keep it 1.5x ahead.
            ulong wanted = Math.Min(window * ConnectionToStreamWindowEighths / 8, _options.MaxConnectionReceiveWindow);
            if (wanted > _connectionWindow)
            {
                _connectionWindow = wanted;
                if (_localMaxData - _consumedData <= _connectionWindow / 2)
                {
                    _maxDataPending = true;
                }
            }
        }

        receive.MaxStreamData = value;
        receive.MaxStreamDataPending = false;
    }

    private static bool ShouldGrow(TimeSpan lastUpdate, TimeSpan now, TimeSpan smoothedRtt)
        => lastUpdate != TimeSpan.MinValue && smoothedRtt > TimeSpan.Zero && now - lastUpdate < smoothedRtt * 2;

    /// <summary>RFC 9000 §4.1/§19.13: the stream has data but no credit: STREAM_DATA_BLOCKED once per limit value.</summary>
    private void MarkStreamBlocked(ManagedStream stream, StreamSendSide send)
    {
        if (send.BlockedLimit != send.MaxStreamData)
        {
            send.BlockedLimit = send.MaxStreamData;
            send.StreamDataBlockedPending = true;
            QueueControl(stream);
        }
    }

    /// <summary>RFC 9000 §4.1/§19.12: data waits on the connection credit: DATA_BLOCKED once per limit value.</summary>
    private void MarkConnectionBlocked()
    {
        if (_dataBlockedLimit != _peerMaxData)
        {
            _dataBlockedLimit = _peerMaxData;
            _dataBlockedPending = true;
        }
    }
}
