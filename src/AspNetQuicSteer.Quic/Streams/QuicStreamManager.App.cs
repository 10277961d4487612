using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Streams;

/// <summary>
/// The app-facing side: write, read, reset, stop sending and per-stream queries. Misuse by the app
/// (unknown IDs, the wrong direction, writing after FIN) throws <see cref="InvalidOperationException"/>;
/// a released stream reads as finished and accepts no writes.
/// </summary>
internal sealed partial class QuicStreamManager
{
    /// <summary>
    /// Buffers data for sending, up to the per-stream send buffer limit (backpressure). Returns the bytes
    /// accepted; <paramref name="fin"/> takes effect only when all of <paramref name="data"/> was accepted.
    /// A short write raises a Writable event once acknowledgments free space. A reset stream accepts nothing.
    /// </summary>
    public int Write(ulong streamId, ReadOnlySpan<byte> data, bool fin)
    {
        ManagedStream? stream = GetAppStream(streamId);
        if (stream is null)
        {
            return 0;
        }

        StreamSendSide send = stream.Send ?? throw new InvalidOperationException($"Stream {streamId} is receive-only.");
        if (send.IsReset || send.IsTerminal)
        {
            return 0;
        }

        if (send.FinWritten)
        {
            throw new InvalidOperationException($"Stream {streamId} was already finished.");
        }

        int accepted = send.Write(data, fin, _options.MaxSendBufferPerStream);
        ScheduleSend(stream);
        return accepted;
    }

    /// <summary>
    /// Reads contiguous received bytes. <paramref name="fin"/> is true once the last byte was read. A
    /// stream reset by the peer returns 0 (see <see cref="TryGetPeerResetCode"/>) and this call marks the
    /// reset observed. A released stream reads as finished.
    /// </summary>
    public int Read(ulong streamId, Span<byte> destination, out bool fin)
    {
        fin = false;
        ManagedStream? stream = GetAppStream(streamId);
        if (stream is null)
        {
            fin = true;
            return 0;
        }

        StreamReceiveSide receive = stream.Receive ?? throw new InvalidOperationException($"Stream {streamId} is send-only.");
        if (receive.IsReset)
        {
            // RFC 9000 §3.2: the app has been told of the reset: Reset Read.
            receive.AcknowledgeReset();
            ReleaseIfComplete(stream);
            return 0;
        }

        int read = receive.Read(destination, out fin);
        if (read > 0)
        {
            ReleaseConnectionCredit(receive, receive.ReadOffset);
            CheckStreamWindow(stream, receive);
        }

        if (!receive.HasReadableState)
        {
            receive.ReadableSignaled = false;
        }

        if (fin)
        {
            ReleaseIfComplete(stream);
        }

        return read;
    }

    /// <summary>Abandons sending with RESET_STREAM carrying <paramref name="errorCode"/> (RFC 9000 §3.1, §19.4).</summary>
    public void ResetStream(ulong streamId, ulong errorCode)
    {
        ValidateErrorCode(errorCode);
        ManagedStream? stream = GetAppStream(streamId);
        if (stream is null)
        {
            return;
        }

        StreamSendSide send = stream.Send ?? throw new InvalidOperationException($"Stream {streamId} is receive-only.");
        if (send.Reset(errorCode))
        {
            QueueControl(stream);
        }
    }

    /// <summary>
    /// Abandons reading: buffered and later data is discarded (and returned to the connection window) and
    /// STOP_SENDING asks the peer to reset its sending part (RFC 9000 §3.5, §19.5).
    /// </summary>
    public void StopSending(ulong streamId, ulong errorCode)
    {
        ValidateErrorCode(errorCode);
        ManagedStream? stream = GetAppStream(streamId);
        if (stream is null)
        {
            return;
        }

        StreamReceiveSide receive = stream.Receive ?? throw new InvalidOperationException($"Stream {streamId} is send-only.");
        if (receive.AbortRead(errorCode))
        {
            ReleaseConnectionCredit(receive, receive.ReadOffset);
            if (receive.StopSendingPending)
            {
                QueueControl(stream);
            }

            ReleaseIfComplete(stream);
        }
    }

    /// <summary>Whether the manager still holds the stream's state (false once released).</summary>
    public bool IsStreamActive(ulong streamId) => _streams.ContainsKey(streamId);

    /// <summary>Contiguous bytes a Read would return now.</summary>
    public ulong GetReadableBytes(ulong streamId)
        => _streams.TryGetValue(streamId, out ManagedStream? stream) && stream.Receive is { } receive ? receive.ReadableBytes : 0;

    /// <summary>Bytes a Write would accept now (send buffer room).</summary>
    public int GetWritableCapacity(ulong streamId)
        => _streams.TryGetValue(streamId, out ManagedStream? stream) && stream.Send is { } send ? send.GetWritableCapacity(_options.MaxSendBufferPerStream) : 0;

    /// <summary>The stream's current receive window (auto-tuned, RFC 9000 §4.2); 0 for unknown or send-only streams.</summary>
    public ulong GetStreamReceiveWindow(ulong streamId)
        => _streams.TryGetValue(streamId, out ManagedStream? stream) && stream.Receive is { } receive ? receive.Window : 0;

    /// <summary>The sending part's state (RFC 9000 §3.1); false for unknown, released or receive-only streams.</summary>
    public bool TryGetSendState(ulong streamId, out SendStreamState state)
    {
        bool found = _streams.TryGetValue(streamId, out ManagedStream? stream) && stream.Send is not null;
        state = found ? stream!.Send!.State : default;
        return found;
    }

    /// <summary>The receiving part's state (RFC 9000 §3.2); false for unknown, released or send-only streams.</summary>
    public bool TryGetReceiveState(ulong streamId, out ReceiveStreamState state)
    {
        bool found = _streams.TryGetValue(streamId, out ManagedStream? stream) && stream.Receive is not null;
        state = found ? stream!.Receive!.State : default;
        return found;
    }

    /// <summary>The error code of the peer's RESET_STREAM, if the peer reset its sending part.</summary>
    public bool TryGetPeerResetCode(ulong streamId, out ulong errorCode)
    {
        bool found = _streams.TryGetValue(streamId, out ManagedStream? stream) && stream.Receive is { IsReset: true, ReadAborted: false };
        errorCode = found ? stream!.Receive!.PeerResetErrorCode : 0;
        return found;
    }

    /// <summary>The error code of the peer's STOP_SENDING, if one arrived.</summary>
    public bool TryGetPeerStopSendingCode(ulong streamId, out ulong errorCode)
    {
        bool found = _streams.TryGetValue(streamId, out ManagedStream? stream) && stream.Send?.StopSendingErrorCode is not null;
        errorCode = found ? stream!.Send!.StopSendingErrorCode!.Value : 0;
        return found;
    }

    /// <summary>The app's stream; null when it was released; throws for IDs that were never opened.</summary>
    private ManagedStream? GetAppStream(ulong streamId)
    {
        if (_streams.TryGetValue(streamId, out ManagedStream? stream))
        {
            return stream;
        }

        ref StreamTypeLimits limits = ref GetLimits(StreamId.IsBidirectional(streamId));
        ulong opened = StreamId.IsLocallyInitiated(streamId, _isServer) ? limits.LocalOpened : limits.PeerOpened;
        if (streamId > StreamId.MaxValue || StreamId.GetIndex(streamId) >= opened)
        {
            throw new InvalidOperationException($"Stream {streamId} has not been opened.");
        }

        return null;
    }

    private static void ValidateErrorCode(ulong errorCode)
    {
        // RFC 9000 §19.4/§19.5: application error codes are varints.
        ArgumentOutOfRangeException.ThrowIfGreaterThan(errorCode, QuicVarInt.MaxValue);
    }
}
