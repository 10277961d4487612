using AspNetQuicSteer.Quic.Connection;

namespace AspNetQuicSteer.Quic.Streams;

/// <summary>
/// The sending part of one stream (RFC 9000 §3.1): the app's unacknowledged bytes, what was sent,
/// acknowledged and lost, the FIN, a reset, and the peer's per-stream credit (MAX_STREAM_DATA, §4.1).
/// Connection-level credit and frame scheduling live in <see cref="QuicStreamManager"/>.
/// </summary>
internal sealed class StreamSendSide
{
    /// <summary>No STREAM_DATA_BLOCKED queued yet.</summary>
    public const ulong NoBlockedLimit = ulong.MaxValue;

    private readonly StreamByteRing _ring = new();
    private readonly RangeSet _acked = new();
    private readonly RangeSet _retransmit = new();

    public StreamSendSide(ulong maxStreamData)
    {
        MaxStreamData = maxStreamData;
    }

    public SendStreamState State { get; private set; }

    /// <summary>Bytes the app has written so far (the next write's offset).</summary>
    public ulong WriteOffset { get; private set; }

    /// <summary>The app finished the stream; the final size is <see cref="WriteOffset"/>.</summary>
    public bool FinWritten { get; private set; }

    /// <summary>Highest offset ever sent: new data starts here, and it is the final size of a reset (RFC 9000 §4.5).</summary>
    public ulong SentOffset { get; private set; }

    /// <summary>Every byte below this offset was acknowledged and released from the buffer.</summary>
    public ulong AckedPrefix { get; private set; }

    public bool FinSent { get; private set; }

    public bool FinAcked { get; private set; }

    /// <summary>A FIN was lost and must be sent again.</summary>
    public bool FinLost { get; private set; }

    /// <summary>The peer's MAX_STREAM_DATA (or initial_max_stream_data_*) for this stream, RFC 9000 §4.1.</summary>
    public ulong MaxStreamData { get; private set; }

    /// <summary>The limit at which STREAM_DATA_BLOCKED was last queued (once per limit value, RFC 9000 §4.1).</summary>
    public ulong BlockedLimit { get; set; } = NoBlockedLimit;

    public bool StreamDataBlockedPending { get; set; }

    public bool ResetPending { get; set; }

    public ulong ResetErrorCode { get; private set; }

    /// <summary>The error code of the peer's STOP_SENDING, when one arrived.</summary>
    public ulong? StopSendingErrorCode { get; set; }

    /// <summary>The app was refused buffer space; raise Writable when some frees up.</summary>
    public bool WriteBlocked { get; set; }

    public bool IsReset => State is SendStreamState.ResetSent or SendStreamState.ResetRecvd;

    public bool IsTerminal => State is SendStreamState.DataRecvd or SendStreamState.ResetRecvd;

    /// <summary>Bytes written and not yet acknowledged.</summary>
    public ulong Buffered => WriteOffset - AckedPrefix;

    /// <summary>Lost ranges or a lost FIN wait to be sent again.</summary>
    public bool HasRetransmission => !IsReset && (!_retransmit.IsEmpty || FinLost);

    /// <summary>New bytes (or a bare FIN) wait to be sent; flow control not considered.</summary>
    public bool HasNewData => !IsReset && (WriteOffset > SentOffset || (FinWritten && !FinSent));

    /// <summary>New bytes wait but the stream's credit is used up (RFC 9000 §4.1).</summary>
    public bool IsStreamBlocked => !IsReset && WriteOffset > SentOffset && SentOffset >= MaxStreamData;

    public int GetWritableCapacity(int maxBuffer)
        => IsReset || FinWritten ? 0 : (int)Math.Max(0L, maxBuffer - (long)Buffered);

    /// <summary>Buffers as much of <paramref name="data"/> as the buffer limit allows; FIN only when all is taken.</summary>
    public int Write(ReadOnlySpan<byte> data, bool fin, int maxBuffer)
    {
        int accepted = Math.Min(data.Length, GetWritableCapacity(maxBuffer));
        if (accepted > 0)
        {
            _ring.EnsureCapacity(AckedPrefix, WriteOffset, WriteOffset + (ulong)accepted);
            _ring.Write(WriteOffset, data[..accepted]);
            WriteOffset += (ulong)accepted;
        }

        if (accepted < data.Length)
        {
            WriteBlocked = true;
        }
        else if (fin)
        {
            FinWritten = true;
        }

        return accepted;
    }

    /// <summary>Raises the peer's credit; returns true when it grew (RFC 9000 §4.1: smaller values are ignored).</summary>
    public bool RaiseMaxStreamData(ulong value)
    {
        if (value <= MaxStreamData)
        {
            return false;
        }

        MaxStreamData = value;
        return true;
    }

    /// <summary>Where the next retransmission starts, and whether it carries bytes (else it is a bare FIN).</summary>
    public bool TryPeekRetransmission(out ulong offset, out bool hasData)
    {
        hasData = !_retransmit.IsEmpty;
        offset = hasData ? _retransmit[0].Start : WriteOffset;
        return !IsReset && (hasData || FinLost);
    }

    /// <summary>The next lost range to resend, at most <paramref name="maxLength"/> bytes; FIN when it ends the stream.</summary>
    public bool TryGetRetransmission(int maxLength, out ulong offset, out ReadOnlySpan<byte> data, out bool fin)
    {
        if (!_retransmit.IsEmpty)
        {
            (ulong start, ulong end) = _retransmit[0];
            data = _ring.GetContiguous(start, (int)Math.Min(end - start, (ulong)maxLength));
            offset = start;
            ulong dataEnd = start + (ulong)data.Length;
            fin = FinLost && dataEnd == WriteOffset && _retransmit.Count == 1 && dataEnd == end;
            return true;
        }

        offset = WriteOffset;
        data = default;
        fin = FinLost;
        return FinLost;
    }

    /// <summary>New data from <see cref="SentOffset"/>, at most <paramref name="maxLength"/> bytes, with FIN when it is the end.</summary>
    public ReadOnlySpan<byte> GetNewData(int maxLength, out bool fin)
    {
        int length = (int)Math.Min(WriteOffset - SentOffset, (ulong)maxLength);
        ReadOnlySpan<byte> data = length == 0 ? default : _ring.GetContiguous(SentOffset, length);
        fin = FinWritten && SentOffset + (ulong)data.Length == WriteOffset;
        return data;
    }

    /// <summary>Records a transmitted STREAM frame; returns the count of bytes beyond <see cref="SentOffset"/> (new connection credit used).</summary>
    public ulong OnSent(ulong offset, int length, bool fin)
    {
        ulong end = offset + (ulong)length;
        _retransmit.Remove(offset, end);
        ulong newBytes = end > SentOffset ? end - SentOffset : 0;
        SentOffset += newBytes;
        if (fin)
        {
            FinSent = true;
            FinLost = false;
        }

        // RFC 9000 §3.1: the first STREAM frame moves Ready to Send; a FIN moves it to Data Sent.
        if (State == SendStreamState.Ready)
        {
            State = SendStreamState.Send;
        }

        if (FinSent && State == SendStreamState.Send)
        {
            State = SendStreamState.DataSent;
        }

        return newBytes;
    }

    /// <summary>
    /// An acknowledged STREAM frame: frees the acknowledged prefix. Returns true when this completes the
    /// stream (RFC 9000 §3.1: all data and FIN acknowledged, Data Recvd).
    /// </summary>
    public bool OnAcknowledged(ulong offset, ulong length, bool fin)
    {
        if (IsTerminal || IsReset)
        {
            return false;
        }

        ulong end = offset + length;
        if (end > AckedPrefix)
        {
            _acked.Add(Math.Max(offset, AckedPrefix), end);
            _retransmit.Remove(offset, end);
            if (_acked[0].Start == AckedPrefix)
            {
                AckedPrefix = _acked[0].End;
                _acked.RemoveBelow(AckedPrefix);
            }
        }

        if (fin)
        {
            FinAcked = true;
            FinLost = false;
        }

        if (AckedPrefix == WriteOffset)
        {
            _ring.Release();
        }

        if (FinAcked && AckedPrefix == WriteOffset && State == SendStreamState.DataSent)
        {
            State = SendStreamState.DataRecvd;
            return true;
        }

        return false;
    }

    /// <summary>A lost STREAM frame: queues the parts not acknowledged since (RFC 9000 §13.3). True when something was queued.</summary>
    public bool OnLost(ulong offset, ulong length, bool fin)
    {
        if (IsReset || IsTerminal)
        {
            // RFC 9000 §13.3: once reset, stream data is not retransmitted.
            return false;
        }

        bool queued = false;
        ulong end = offset + length;
        ulong cursor = Math.Max(offset, AckedPrefix);
        for (int i = 0; i < _acked.Count && cursor < end; i++)
        {
            (ulong s, ulong e) = _acked[i];
            if (e <= cursor)
            {
                continue;
            }

            if (s >= end)
            {
                break;
            }

            if (s > cursor)
            {
                _retransmit.Add(cursor, s);
                queued = true;
            }

            cursor = Math.Max(cursor, e);
        }

        if (cursor < end)
        {
            _retransmit.Add(cursor, end);
            queued = true;
        }

        if (fin && !FinAcked)
        {
            FinLost = true;
            queued = true;
        }

        return queued;
    }

    /// <summary>Abandons sending (RFC 9000 §3.1: to Reset Sent); the final size is what was sent. False when already terminal or reset.</summary>
    public bool Reset(ulong errorCode)
    {
        if (IsReset || IsTerminal)
        {
            return false;
        }

        State = SendStreamState.ResetSent;
        ResetErrorCode = errorCode;
        ResetPending = true;
        StreamDataBlockedPending = false;
        FinLost = false;
        _retransmit.Clear();
        _acked.Clear();
        _ring.Release();
        return true;
    }

    /// <summary>RESET_STREAM acknowledged: Reset Recvd (RFC 9000 §3.1). True on the transition.</summary>
    public bool OnResetAcknowledged()
    {
        if (State != SendStreamState.ResetSent)
        {
            return false;
        }

        State = SendStreamState.ResetRecvd;
        ResetPending = false;
        return true;
    }

    /// <summary>Frees pooled storage when the stream is released.</summary>
    public void Release() => _ring.Release();
}
