using AspNetQuicSteer.Quic.Connection;

namespace AspNetQuicSteer.Quic.Streams;

/// <summary>
/// The receiving part of one stream (RFC 9000 §3.2): reassembly of STREAM frames into a ring bounded
/// by the receive window, the final size (§4.5), the credit we advertised (§4.1) and its auto-tuned window.
/// Validation that needs connection-level state is done by <see cref="QuicStreamManager"/> before calling in.
/// </summary>
internal sealed class StreamReceiveSide
{
    private readonly StreamByteRing _ring = new();
    private readonly RangeSet _received = new();

    public StreamReceiveSide(ulong window)
    {
        Window = window;
        MaxStreamData = window;
    }

    public ReceiveStreamState State { get; private set; }

    /// <summary>Bytes delivered to the app (or discarded).</summary>
    public ulong ReadOffset { get; private set; }

    /// <summary>Highest offset received: the stream's consumption of flow-control credit (RFC 9000 §4.1).</summary>
    public ulong HighestReceived { get; private set; }

    public bool FinalSizeKnown { get; private set; }

    public ulong FinalSize { get; private set; }

    /// <summary>The limit we advertised (initial_max_stream_data_* or our last MAX_STREAM_DATA).</summary>
    public ulong MaxStreamData { get; set; }

    /// <summary>Current receive window, doubled by auto-tuning up to the configured maximum.</summary>
    public ulong Window { get; set; }

    /// <summary>When the window was last extended; with the RTT, decides whether to grow it.</summary>
    public TimeSpan LastWindowUpdate { get; set; } = TimeSpan.MinValue;

    public bool MaxStreamDataPending { get; set; }

    public bool StopSendingPending { get; set; }

    public ulong StopSendingErrorCode { get; private set; }

    /// <summary>The app asked to stop reading (STOP_SENDING, RFC 9000 §3.5): data is discarded on arrival.</summary>
    public bool ReadAborted { get; private set; }

    public ulong PeerResetErrorCode { get; private set; }

    /// <summary>Offset up to which this stream's bytes were returned to the connection-level window.</summary>
    public ulong ConnectionCreditReleased { get; set; }

    /// <summary>A Readable event is outstanding; cleared when the app drains the stream.</summary>
    public bool ReadableSignaled { get; set; }

    public bool IsTerminal => State is ReceiveStreamState.DataRead or ReceiveStreamState.ResetRead;

    public bool IsReset => State is ReceiveStreamState.ResetRecvd or ReceiveStreamState.ResetRead;

    /// <summary>Contiguous bytes available to Read.</summary>
    public ulong ReadableBytes
    {
        get
        {
            if (IsReset || ReadAborted || _received.IsEmpty)
            {
                return 0;
            }

            (ulong start, ulong end) = _received[0];
            return start <= ReadOffset ? end - ReadOffset : 0;
        }
    }

    /// <summary>The app has something to observe: data, the FIN, or a reset.</summary>
    public bool HasReadableState
        => ReadableBytes > 0 || State is ReceiveStreamState.ResetRecvd || (State == ReceiveStreamState.DataRecvd && ReadOffset == FinalSize);

    /// <summary>Records the end of a validated frame (or reset) in the flow-control accounting; returns the increase.</summary>
    public ulong AdvanceHighest(ulong end)
    {
        if (end <= HighestReceived)
        {
            return 0;
        }

        ulong increase = end - HighestReceived;
        HighestReceived = end;
        return increase;
    }

    public void SetFinalSize(ulong finalSize)
    {
        FinalSizeKnown = true;
        FinalSize = finalSize;
        if (State == ReceiveStreamState.Recv)
        {
            State = ReceiveStreamState.SizeKnown;
        }
    }

    /// <summary>Stores validated data; moves to Data Recvd when every byte up to the final size is present (RFC 9000 §3.2).</summary>
    public void Store(ulong offset, ReadOnlySpan<byte> data)
    {
        if (State is not (ReceiveStreamState.Recv or ReceiveStreamState.SizeKnown))
        {
            return;
        }

        ulong end = offset + (ulong)data.Length;
        if (!ReadAborted && end > ReadOffset && !data.IsEmpty)
        {
            if (offset < ReadOffset)
            {
                data = data[(int)(ReadOffset - offset)..];
                offset = ReadOffset;
            }

            if (!_received.ContainsRange(offset, end))
            {
                ulong liveEnd = _received.IsEmpty ? ReadOffset : Math.Max(ReadOffset, _received.Max + 1);
                _ring.EnsureCapacity(ReadOffset, liveEnd, Math.Max(end, liveEnd));
                _ring.Write(offset, data);
                _received.Add(offset, end);
            }
        }

        if (ReadAborted && end > ReadOffset)
        {
            // Nothing is buffered while reading is abandoned; the bytes count as consumed.
            ReadOffset = end;
        }

        CheckAllReceived();
    }

    private void CheckAllReceived()
    {
        if (State != ReceiveStreamState.SizeKnown)
        {
            return;
        }

        bool complete = ReadAborted
            ? HighestReceived == FinalSize
            : ReadOffset == FinalSize || (!_received.IsEmpty && _received[0].Start <= ReadOffset && _received[0].End == FinalSize);
        if (complete)
        {
            // RFC 9000 §3.2: all data received; an abandoned reader goes straight to its terminal state.
            State = ReadAborted ? ReceiveStreamState.DataRead : ReceiveStreamState.DataRecvd;
            if (ReadAborted)
            {
                ReadOffset = FinalSize;
            }
        }
    }

    /// <summary>Copies readable bytes to <paramref name="destination"/>; <paramref name="fin"/> once the final byte is read.</summary>
    public int Read(Span<byte> destination, out bool fin)
    {
        int count = (int)Math.Min(ReadableBytes, (ulong)destination.Length);
        if (count > 0)
        {
            _ring.Read(ReadOffset, destination[..count]);
            ReadOffset += (ulong)count;
            _received.RemoveBelow(ReadOffset);
            if (_received.IsEmpty)
            {
                _ring.Release();
            }
        }

        fin = false;
        if (State == ReceiveStreamState.DataRecvd && ReadOffset == FinalSize)
        {
            // RFC 9000 §3.2: the app has read everything: Data Read.
            State = ReceiveStreamState.DataRead;
            fin = true;
            _ring.Release();
        }

        return count;
    }

    /// <summary>RESET_STREAM accepted (RFC 9000 §3.2): data is discarded. False when all data had already arrived (the reset is ignored).</summary>
    public bool OnReset(ulong errorCode, ulong finalSize)
    {
        if (State is not (ReceiveStreamState.Recv or ReceiveStreamState.SizeKnown))
        {
            return false;
        }

        PeerResetErrorCode = errorCode;
        FinalSizeKnown = true;
        FinalSize = finalSize;
        State = ReadAborted ? ReceiveStreamState.ResetRead : ReceiveStreamState.ResetRecvd;
        MaxStreamDataPending = false;
        StopSendingPending = false;
        ReadOffset = finalSize;
        _received.Clear();
        _ring.Release();
        return true;
    }

    /// <summary>The app observed the reset: Reset Read (RFC 9000 §3.2).</summary>
    public void AcknowledgeReset()
    {
        if (State == ReceiveStreamState.ResetRecvd)
        {
            State = ReceiveStreamState.ResetRead;
        }
    }

    /// <summary>
    /// The app abandons reading (RFC 9000 §3.5): buffered data is dropped and STOP_SENDING queued unless
    /// everything already arrived. Returns false when nothing changed.
    /// </summary>
    public bool AbortRead(ulong errorCode)
    {
        if (IsTerminal || ReadAborted)
        {
            return false;
        }

        ReadAborted = true;
        MaxStreamDataPending = false;
        _received.Clear();
        _ring.Release();
        switch (State)
        {
            case ReceiveStreamState.Recv or ReceiveStreamState.SizeKnown:
                StopSendingErrorCode = errorCode;
                StopSendingPending = true;
                ReadOffset = HighestReceived;
                CheckAllReceived();
                break;
            case ReceiveStreamState.DataRecvd:
                ReadOffset = FinalSize;
                State = ReceiveStreamState.DataRead;
                break;
            case ReceiveStreamState.ResetRecvd:
                State = ReceiveStreamState.ResetRead;
                break;
        }

        return true;
    }

    /// <summary>Frees pooled storage when the stream is released.</summary>
    public void Release() => _ring.Release();
}
