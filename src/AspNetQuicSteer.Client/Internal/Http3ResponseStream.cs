using System.Buffers;
using System.IO.Pipelines;
using AspNetQuicSteer.Client.Http3;

namespace AspNetQuicSteer.Client.Internal;

/// <summary>
/// The response body: the payloads of the DATA frames on the request stream (RFC 9114 §4.1), then optional trailers
/// (a second HEADERS frame, copied to <see cref="HttpResponseMessage.TrailingHeaders"/>). Each read is bounded by
/// <see cref="QuicSteeringHttp3HandlerOptions.ReadIdleTimeout"/>; disposing it before the end cancels the request.
/// </summary>
internal sealed class Http3ResponseStream : Stream
{
    private readonly Http3RequestExchange _exchange;
    private readonly HttpResponseMessage _response;
    private readonly TimeSpan _idleTimeout;
    private readonly PipeReader _input;
    private CancellationTokenSource _idle = new();
    private long _frameRemaining;
    private long _received;
    private bool _trailersSeen;
    private bool _done;
    private bool _failed;
    private bool _disposed;

    public Http3ResponseStream(Http3RequestExchange exchange, HttpResponseMessage response, QuicSteeringHttp3HandlerOptions options)
    {
        _exchange = exchange;
        _response = response;
        _idleTimeout = options.ReadIdleTimeout;
        _input = exchange.Input;
    }

    /// <summary>Content-Length to verify at the end, if any.</summary>
    public long? ExpectedLength { get; set; }

    public override bool CanRead => !_disposed;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_done || buffer.IsEmpty) return 0;
        if (_failed) throw new IOException("The response body failed earlier.");

        CancellationTokenSource? linked = null;
        CancellationToken token = _idle.Token;
        if (_idleTimeout != Timeout.InfiniteTimeSpan) _idle.CancelAfter(_idleTimeout);
        if (cancellationToken.CanBeCanceled)
        {
            linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _idle.Token);
            token = linked.Token;
        }

        try
        {
            return await ReadCoreAsync(buffer, token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _failed = true;
            _exchange.Abort(Http3ErrorCode.RequestCancelled);
            throw;
        }
        catch (OperationCanceledException e) when (_idle.IsCancellationRequested)
        {
            _failed = true;
            _exchange.Abort(Http3ErrorCode.RequestCancelled);
            throw new Http3TimeoutException($"The response body stalled for {_idleTimeout.TotalSeconds:0.###} s.", e);
        }
        catch (Exception e) when (e is not Http3RequestException)
        {
            _failed = true;
            throw _exchange.Failure(e, responseStarted: true); // once the response started, nothing is retried
        }
        finally
        {
            linked?.Dispose();
            if (!_idle.TryReset())
            {
                _idle.Dispose();
                _idle = new CancellationTokenSource();
            }
        }
    }

    private async ValueTask<int> ReadCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (_frameRemaining == 0)
        {
            if (!await NextDataFrameAsync(cancellationToken).ConfigureAwait(false))
            {
                Complete();
                return 0;
            }
        }

        while (true)
        {
            ReadResult result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> data = result.Buffer;
            int take = (int)Math.Min(Math.Min(data.Length, _frameRemaining), buffer.Length);
            if (take == 0)
            {
                _input.AdvanceTo(data.Start, data.End);
                if (result.IsCompleted) throw new Http3ProtocolViolationException(Http3ErrorCode.FrameError, "The stream ended inside a DATA frame (RFC 9114 §7.1).");
                continue;
            }

            data.Slice(0, take).CopyTo(buffer.Span);
            _input.AdvanceTo(data.GetPosition(take));
            _frameRemaining -= take;
            _received += take;
            if (ExpectedLength is { } expected && _received > expected)
            {
                throw new Http3ProtocolViolationException(Http3ErrorCode.MessageError, "More DATA than Content-Length (RFC 9114 §4.1.2).");
            }

            return take;
        }
    }

    /// <summary>Advances to the next DATA frame with a payload; false at the end of the response.</summary>
    private async ValueTask<bool> NextDataFrameAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            (ulong Type, long Length)? header = await Http3FramePipeReader.ReadHeaderAsync(_input, cancellationToken).ConfigureAwait(false);
            if (header is not { } frame) return false;
            switch (frame.Type)
            {
                case Http3FrameType.Data:
                    // RFC 9114 §4.1: nothing but unknown frames may follow the trailers.
                    if (_trailersSeen) throw new Http3ProtocolViolationException(Http3ErrorCode.FrameUnexpected, "DATA after trailers (RFC 9114 §4.1).");
                    _frameRemaining = frame.Length;
                    if (frame.Length > 0) return true;
                    break;
                case Http3FrameType.Headers:
                    if (_trailersSeen) throw new Http3ProtocolViolationException(Http3ErrorCode.FrameUnexpected, "A second trailer section (RFC 9114 §4.1).");
                    _trailersSeen = true;
                    Http3ResponseFields trailers = await _exchange.ReadFieldSectionAsync(frame.Length, trailers: true, cancellationToken).ConfigureAwait(false);
                    trailers.CopyTo(_response.TrailingHeaders, contentHeaders: null);
                    break;
                default:
                    await _exchange.HandleNonHeadersFrameAsync(frame, cancellationToken).ConfigureAwait(false);
                    break;
            }
        }
    }

    private void Complete()
    {
        if (ExpectedLength is { } expected && _received != expected)
        {
            throw new Http3ProtocolViolationException(Http3ErrorCode.MessageError,
                $"The response had {_received} bytes of DATA but Content-Length {expected} (RFC 9114 §4.1.2).");
        }

        _done = true;
        _exchange.OnResponseCompleted();
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            // RFC 9114 §4.1.1: a client that no longer wants the response aborts the stream with H3_REQUEST_CANCELLED.
            if (!_done) _exchange.Abort(Http3ErrorCode.RequestCancelled);
            _idle.Dispose();
        }

        base.Dispose(disposing);
    }
}
