using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Connections;

namespace AspNetQuicSteer.Kestrel.Internal;

// CA2012: the pipe ValueTasks here are kept in fields and consumed exactly once, after IsCompleted was checked or their
// own completion callback ran; that is the supported pattern for IValueTaskSource-backed pipe operations.
#pragma warning disable CA2012

/// <summary>
/// The data paths between the QUIC stream and Kestrel's pipes. Every <c>Loop*</c> member runs on the listener's loop
/// thread. Continuations from the pipes (a flush that resumed, a read that became ready) run on Kestrel's threads
/// and only hand the stream back to the loop; the delegates are cached so the steady state allocates nothing.
/// </summary>
internal sealed partial class QuicSteeringStreamContext
{
    private readonly Action _onOutputReady;
    private readonly Action _loopOnOutputReady;
    private readonly Action _onInputFlushed;
    private readonly Action _loopResumeInput;

    private ValueTask<ReadResult> _pendingRead;
    private ValueTask<FlushResult> _pendingFlush;
    private bool _inputPaused;
    private bool _inputDone;
    private bool _outputDone;
    private bool _outputArmed;
    private bool _waitingForCredit;
    private bool _sendDone;
    private bool _released;
    private Http3GoAwayRewriter _goAwayRewriter;
    private byte[]? _controlScratch;

    // ---- QUIC → Kestrel (request bodies, inbound unidirectional streams) ----

    /// <summary>Starts both directions; called on the loop thread once the stream exists.</summary>
    internal void LoopStart()
    {
        if (CanRead) LoopPumpInput();
        if (CanWrite) LoopArmOutput();
    }

    /// <summary>Stream event Readable: bytes or the FIN arrived.</summary>
    internal void LoopOnReadable()
    {
        if (!_inputPaused && !_inputDone) LoopPumpInput();
    }

    private void LoopPumpInput()
    {
        PipeWriter writer = _input.Writer;
        while (!_inputDone)
        {
            Memory<byte> memory = writer.GetMemory();
            int read = _quic.ReadStream(QuicStreamId, memory.Span, out bool fin);
            if (read > 0) writer.Advance(read);
            if (fin)
            {
                _inputDone = true;
                if (_quic.TryGetPeerResetCode(QuicStreamId, out ulong code))
                {
                    LoopOnPeerReset(code);
                    return;
                }

                writer.Complete();
                LoopCheckFinished();
                return;
            }

            if (read == 0) return; // Drained: the next Readable event brings more.

            ValueTask<FlushResult> flush = writer.FlushAsync();
            if (!flush.IsCompleted)
            {
                // Kestrel has MaxReadBufferSize unread: stop taking bytes from QUIC, so its receive window (and the
                // peer's credit) stops growing until the application catches up (RFC 9000 §4.1).
                _inputPaused = true;
                _pendingFlush = flush;
                flush.GetAwaiter().UnsafeOnCompleted(_onInputFlushed);
                return;
            }

            bool readerGone = flush.GetAwaiter().GetResult().IsCompleted;
            if (readerGone)
            {
                LoopOnInputReaderGone();
                return;
            }
        }
    }

    private void OnInputFlushedFromReader() => _connection.Post(_loopResumeInput);

    private void LoopResumeInput()
    {
        _inputPaused = false;
        FlushResult result;
        try
        {
            result = _pendingFlush.GetAwaiter().GetResult();
        }
        finally
        {
            _pendingFlush = default;
        }

        if (result.IsCompleted)
        {
            LoopOnInputReaderGone();
            return;
        }

        LoopPumpInput();
    }

    /// <summary>Kestrel completed its input without an AbortRead: it wants no more of the request.</summary>
    private void LoopOnInputReaderGone()
    {
        if (_inputDone) return;
        _inputDone = true;
        _quic.StopSending(QuicStreamId, (ulong)_connection.Options.DefaultStreamErrorCode);
        _input.Writer.Complete();
        LoopCheckFinished();
    }

    /// <summary>RESET_STREAM from the peer (RFC 9000 §3.2): Error first, then input fails (KESTREL.md §7).</summary>
    internal void LoopOnPeerReset(ulong errorCode)
    {
        QuicSteeringLog.StreamPeerAbort(_connection.Logger, _connection.ConnectionId, QuicStreamId, "reset the stream", errorCode);
        Error = (long)errorCode;
        _quic.ReadStream(QuicStreamId, [], out _); // RFC 9000 §3.2: the app has seen the reset (Reset Read), so the core can release the stream
        _inputDone = true;
        // KESTREL.md §7: the close callbacks (Kestrel aborts the request, RequestAborted fires) run before the request
        // body read fails, so the application sees RequestAborted set when its read throws.
        var failure = new ConnectionResetException($"The peer reset the stream with application error 0x{errorCode:x}.");
        if (!FireClosed(failure)) _input.Writer.Complete(failure);
        LoopCheckFinished();
    }

    // ---- Kestrel → QUIC (responses, the control stream) ----

    private void LoopArmOutput()
    {
        while (!_outputDone && !_waitingForCredit)
        {
            ValueTask<ReadResult> read = _output.Reader.ReadAsync();
            if (!read.IsCompleted)
            {
                _outputArmed = true;
                _pendingRead = read;
                read.GetAwaiter().UnsafeOnCompleted(_onOutputReady);
                return;
            }

            if (!LoopTakeOutput(read)) return;
        }
    }

    /// <summary>Kestrel flushed (or completed) its output: runs inline on its thread, so only queue the stream.</summary>
    private void OnOutputReadyFromWriter() => _connection.Post(_loopOnOutputReady);

    private void LoopOnOutputReady()
    {
        if (!_outputArmed) return;
        _outputArmed = false;
        if (_outputDone)
        {
            // An abort completed the reader while this read was armed: nothing to take any more.
            _pendingRead = default;
            return;
        }

        ValueTask<ReadResult> read = _pendingRead;
        _pendingRead = default;
        if (LoopTakeOutput(read)) LoopArmOutput();
    }

    /// <summary>Waiting for send-buffer space (checked each turn besides the Writable event, which is edge-triggered).</summary>
    internal bool IsWaitingForCredit => _waitingForCredit && !_outputDone;

    internal bool LoopHasCredit() => _quic.GetWritableCapacity(QuicStreamId) > 0;

    /// <summary>Stream event Writable: the send buffer has room again.</summary>
    internal void LoopOnWritable()
    {
        if (!_waitingForCredit || _outputDone) return;
        _waitingForCredit = false;
        if (_output.Reader.TryRead(out ReadResult result))
        {
            if (LoopTakeOutput(new ValueTask<ReadResult>(result))) LoopArmOutput();
        }
        else
        {
            LoopArmOutput();
        }
    }

    /// <summary>Moves what fits into the QUIC send buffer; true to keep reading, false when blocked or finished.</summary>
    private bool LoopTakeOutput(ValueTask<ReadResult> read)
    {
        if (_outputDone) return false;
        if (Volatile.Read(ref _abortRequestedCode) is >= 0 and long requested)
        {
            // An abort is on its way from Kestrel (see Abort): it wins over whatever the pipe holds, FIN included.
            LoopAbortWrite((ulong)requested, abortReason: null);
            return false;
        }

        ReadResult result;
        try
        {
            // Callers pass only completed reads (IsCompleted checked, or signalled by the read's own continuation).
            result = read.GetAwaiter().GetResult();
        }
#pragma warning disable CA1031 // Kestrel completed its output with an error: that is an abort of the response.
        catch (Exception)
#pragma warning restore CA1031
        {
            LoopAbortWrite((ulong)(Error >= 0 ? Error : _connection.Options.DefaultStreamErrorCode), abortReason: null);
            return false;
        }

        ReadOnlySequence<byte> buffer = result.Buffer;
        if (_sendDone)
        {
            // Our sending part was reset (STOP_SENDING or an abort): discard, so Kestrel's writes never wait on us.
            _output.Reader.AdvanceTo(buffer.End);
            if (!result.IsCompleted) return true;
            LoopCompleteOutput();
            return false;
        }

        long taken = 0;
        foreach (ReadOnlyMemory<byte> segment in buffer)
        {
            int accepted = IsLocalUnidirectional && !_quic.IsClient ? LoopWriteControl(segment.Span) : _quic.WriteStream(QuicStreamId, segment.Span, fin: false);
            taken += accepted;
            if (accepted < segment.Length) break;
        }

        if (taken == buffer.Length && result.IsCompleted)
        {
            _output.Reader.AdvanceTo(buffer.End);
            _quic.WriteStream(QuicStreamId, ReadOnlySpan<byte>.Empty, fin: true); // RFC 9000 §3.1: the FIN ends the response
            _sendDone = true;
            LoopCompleteOutput();
            return false;
        }

        if (taken < buffer.Length)
        {
            // Examined only up to what was taken, so the next read returns the rest at once.
            SequencePosition consumed = buffer.GetPosition(taken);
            _output.Reader.AdvanceTo(consumed, consumed);
            // Flow control or the send buffer is full; the rest stays in the pipe (whose pause threshold then holds
            // Kestrel's writes) until the Writable event.
            _waitingForCredit = true;
            _connection.LoopWaitForCredit(this);
            return false;
        }

        _output.Reader.AdvanceTo(buffer.End);
        return true;
    }

    /// <summary>Kestrel's control stream passes through <see cref="Http3GoAwayRewriter"/> (a few bytes per connection).</summary>
    private int LoopWriteControl(ReadOnlySpan<byte> data)
    {
        if (_controlScratch is null || _controlScratch.Length < data.Length) _controlScratch = new byte[Math.Max(256, data.Length)];
        Span<byte> scratch = _controlScratch.AsSpan(0, data.Length);
        data.CopyTo(scratch);
        Http3GoAwayRewriter probe = _goAwayRewriter;
        probe.Process(scratch);
        int accepted = _quic.WriteStream(QuicStreamId, scratch, fin: false);
        _goAwayRewriter.Process(scratch[..accepted]);
        return accepted;
    }

    private void LoopCompleteOutput()
    {
        if (_outputDone) return;
        _outputDone = true;
        _output.Reader.Complete();
        LoopCheckFinished();
    }

    /// <summary>STOP_SENDING from the peer (RFC 9000 §3.5): our sending part is reset; Kestrel's response is abandoned.</summary>
    internal void LoopOnPeerStopSending(ulong errorCode)
    {
        QuicSteeringLog.StreamPeerAbort(_connection.Logger, _connection.ConnectionId, QuicStreamId, "stopped reading", errorCode);
        Error = (long)errorCode;
        _sendDone = true;
        if (!_outputDone)
        {
            _outputDone = true;
            _output.Reader.Complete(new ConnectionResetException($"The peer stopped reading the stream with application error 0x{errorCode:x}."));
        }

        LoopCheckFinished();
    }

    /// <summary>
    /// The transport cancels a request whose response Kestrel is still writing (a draining generation's drain timeout):
    /// RESET_STREAM and STOP_SENDING with <paramref name="code"/>, and Kestrel sees the stream aborted. False when the
    /// response was already complete (nothing to cancel; what is in flight is still delivered).
    /// </summary>
    internal bool LoopCancel(ulong code, string reason)
    {
        if (!CanWrite || _outputDone) return false;
        LoopAbort(code, new ConnectionAbortedException(reason));
        return true;
    }

    // ---- aborts from Kestrel ----

    private void LoopAbort(ulong code, ConnectionAbortedException? abortReason)
    {
        LoopAbortRead(code, abortReason);
        LoopAbortWrite(code, abortReason);
    }

    private void LoopAbortRead(ulong code, ConnectionAbortedException? abortReason)
    {
        // Kestrel ends a connection by aborting the client's control and QPACK streams with H3_NO_ERROR, then closing.
        // STOP_SENDING on those would make the client close with H3_CLOSED_CRITICAL_STREAM (RFC 9114 §6.2.1) before
        // our CONNECTION_CLOSE arrives: leave them to the connection close. Other codes (e.g. H3_STREAM_CREATION_ERROR
        // for an unknown stream type, §6.2.3) are sent.
        bool endingCriticalStream = !CanWrite && code == 0x100;
        if (CanRead && !_inputDone && !_released && !endingCriticalStream)
        {
            _quic.StopSending(QuicStreamId, code);
        }

        if (CanRead && !_inputDone)
        {
            _inputDone = true;
            _input.Writer.Complete(abortReason);
        }

        LoopCheckFinished();
    }

    private void LoopAbortWrite(ulong code, ConnectionAbortedException? abortReason)
    {
        if (CanWrite && !_sendDone && !_released)
        {
            _quic.ResetStream(QuicStreamId, code);
        }

        _sendDone = true;
        if (CanWrite && !_outputDone)
        {
            _outputDone = true;
            _output.Reader.Complete(abortReason);
        }

        LoopCheckFinished();
    }

    // ---- lifetime ----

    /// <summary>Stream event Released: the core freed the stream (both parts terminal, RFC 9000 §3).</summary>
    internal void LoopOnReleased()
    {
        _released = true;
        LoopCheckFinished();
    }

    /// <summary>The connection ended: fail what is still open and report the stream closed.</summary>
    internal void LoopOnConnectionClosed(Exception error)
    {
        _released = true;
        if (!_inputDone)
        {
            _inputDone = true;
            _input.Writer.Complete(error);
        }

        if (!_outputDone)
        {
            _outputDone = true;
            _sendDone = true;
            _output.Reader.Complete(error);
        }

        FireClosed();
    }

    /// <summary>
    /// Both directions finished on Kestrel's side and the core released the stream: the stream is closed.
    /// An outbound unidirectional stream (Kestrel's control stream) is never closed before its connection.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void LoopCheckFinished()
    {
        if (IsLocalUnidirectional && !_released) return;
        bool inputFinished = !CanRead || _inputDone;
        bool outputFinished = !CanWrite || _outputDone;
        if (inputFinished && outputFinished)
        {
            if (_released || _sendDone) FireClosed();
            if (_released) _connection.LoopForget(this);
        }
    }
}
