using System.Buffers;
using System.IO.Pipelines;
using AspNetQuicSteer.Client.Http3;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace AspNetQuicSteer.Client.Internal;

/// <summary>
/// One request and its response on one request stream (RFC 9114 §4.1): HEADERS, DATA, optional trailers each way.
/// The request body is sent concurrently with reading the response; the response body is read by the caller through
/// <see cref="Http3ResponseStream"/>. The stream is released when both directions are done or it was aborted.
/// </summary>
#pragma warning disable CA1001 // _bodyCancellation is disposed when the exchange finishes (Finish), whichever way it ends.
internal sealed partial class Http3RequestExchange
#pragma warning restore CA1001
{
    private readonly Http3ClientConnection _connection;
    private readonly ConnectionContext _stream;
    private readonly HttpRequestMessage _request;
    private readonly QuicSteeringHttp3HandlerOptions _options;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly CancellationTokenSource _bodyCancellation = new();
    private Task _requestBody = Task.CompletedTask;
    private int _finished;
    private int _responseDone;
    private int _requestDone;
    private bool _bodyStarted;

    public Http3RequestExchange(Http3ClientConnection connection, ConnectionContext stream, long streamId, HttpRequestMessage request,
        QuicSteeringHttp3HandlerOptions options)
    {
        _connection = connection;
        _stream = stream;
        StreamId = streamId;
        _request = request;
        _options = options;
        _input = stream.Transport.Input;
        _output = stream.Transport.Output;
    }

    public long StreamId { get; }

    internal Http3ClientConnection Connection => _connection;

    internal PipeReader Input => _input;

    /// <summary>Sends the request and returns once the final response's headers arrived (the body streams after).</summary>
    public async Task<HttpResponseMessage> SendAsync(CancellationToken cancellationToken)
    {
        using var headersTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (_options.ResponseHeadersTimeout != Timeout.InfiniteTimeSpan) headersTimeout.CancelAfter(_options.ResponseHeadersTimeout);
        try
        {
            await WriteRequestHeadersAsync(cancellationToken).ConfigureAwait(false);
            if (_request.Content is { } content)
            {
                _bodyStarted = true;
                _requestBody = SendBodyAsync(content);
            }
            else
            {
                await _output.CompleteAsync().ConfigureAwait(false);
                Volatile.Write(ref _requestDone, 1);
            }

            HttpResponseMessage response = await ReadResponseHeadersAsync(headersTimeout.Token).ConfigureAwait(false);
            return response;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Abort(Http3ErrorCode.RequestCancelled);
            throw;
        }
        catch (OperationCanceledException e) when (headersTimeout.IsCancellationRequested)
        {
            Abort(Http3ErrorCode.RequestCancelled);
            throw new Http3TimeoutException($"No response headers within {_options.ResponseHeadersTimeout.TotalSeconds:0.###} s.", e);
        }
        catch (Exception e)
        {
            throw Failure(e, responseStarted: false);
        }
    }

    /// <summary>
    /// Maps a failure to what the caller sees and ends the exchange: protocol violations close the stream (message
    /// errors, RFC 9114 §4.1.2) or the connection (everything else, §8); streams the server provably did not process
    /// become <see cref="Http3RetryableException"/>.
    /// </summary>
    internal Exception Failure(Exception error, bool responseStarted)
    {
        switch (error)
        {
            case Http3RequestException typed:
                Abort(Http3ErrorCode.RequestCancelled);
                return typed;
            case Http3ProtocolViolationException violation when violation.ErrorCode == Http3ErrorCode.MessageError:
                Abort(Http3ErrorCode.MessageError);
                return new Http3ProtocolException($"Malformed response on stream {StreamId}: {violation.Message}", (long)Http3ErrorCode.MessageError, violation);
            case Http3ProtocolViolationException violation:
                Http3ProtocolException failure = _connection.Fail(violation.ErrorCode, violation.Message);
                Finish();
                return failure;
        }

        long streamCode = _stream.Features.Get<IProtocolErrorCodeFeature>()?.Error ?? -1;
        Finish();
        Http3RequestException mapped = _connection.MapConnectionFailure(error, streamCode);
        bool rejected = streamCode == (long)Http3ErrorCode.RequestRejected; // RFC 9114 §4.1.1: not processed
        if (!responseStarted && (rejected || _connection.WasNotProcessed(StreamId)) && CanResend())
        {
            return new Http3RetryableException($"Stream {StreamId} was not processed by the server.", mapped);
        }

        return mapped;
    }

    /// <summary>A body that was (partly) sent can go again only if it can be produced a second time.</summary>
    private bool CanResend() => !_bodyStarted || _request.Content is ByteArrayContent or ReadOnlyMemoryContent or FormUrlEncodedContent or StringContent;

    /// <summary>RESET_STREAM and STOP_SENDING with <paramref name="code"/> (RFC 9114 §4.1.1), then the exchange ends.</summary>
    internal void Abort(Http3ErrorCode code)
    {
        if (Volatile.Read(ref _finished) != 0) return;
        if (Volatile.Read(ref _responseDone) == 0 || Volatile.Read(ref _requestDone) == 0)
        {
            _stream.Features.Get<IProtocolErrorCodeFeature>()!.Error = (long)code;
            _stream.Abort(new ConnectionAbortedException("The request was aborted."));
        }

        _bodyCancellation.Cancel();
        Finish();
    }

    /// <summary>The response side is complete (FIN read, trailers handled).</summary>
    internal void OnResponseCompleted()
    {
        Volatile.Write(ref _responseDone, 1);
        if (Volatile.Read(ref _requestDone) != 0)
        {
            Finish();
            return;
        }

        // RFC 9114 §4.1: the response is complete before the request body was sent; the server will not use the rest.
        _stream.Features.Get<IStreamAbortFeature>()?.AbortWrite((long)Http3ErrorCode.RequestCancelled,
            new ConnectionAbortedException("The response completed before the request body was sent."));
        _bodyCancellation.Cancel();
        _ = FinishAfterRequestBodyAsync();
    }

    private async Task FinishAfterRequestBodyAsync()
    {
        try
        {
            await _requestBody.ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The response is complete; a body that could not be sent no longer matters.
        catch (Exception)
#pragma warning restore CA1031
        {
        }

        Finish();
    }

    private void Finish()
    {
        if (Interlocked.Exchange(ref _finished, 1) != 0) return;
        _bodyCancellation.Dispose();
        _ = DisposeStreamAsync();
        _connection.Release();
    }

    private async Task DisposeStreamAsync()
    {
        try
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Disposal is best effort; the connection cleans up its streams when it closes.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    private async ValueTask WriteRequestHeadersAsync(CancellationToken cancellationToken)
    {
        var fields = new ArrayBufferWriter<byte>(256);
        Http3RequestHeaders.Encode(_request, fields);
        if (fields.WrittenCount > _connection.PeerMaxFieldSectionSize)
        {
            // RFC 9114 §4.2.2: do not send a field section larger than the server accepts.
            Abort(Http3ErrorCode.RequestCancelled);
            throw new Http3ProtocolException($"The request headers ({fields.WrittenCount} bytes) exceed the server's limit.", (long)Http3ErrorCode.ExcessiveLoad);
        }

        int headerLength = Http3FrameHeader.GetLength(Http3FrameType.Headers, fields.WrittenCount);
        Span<byte> span = _output.GetSpan(headerLength + fields.WrittenCount);
        Http3FrameHeader.Write(span, Http3FrameType.Headers, fields.WrittenCount);
        fields.WrittenSpan.CopyTo(span[headerLength..]);
        _output.Advance(headerLength + fields.WrittenCount);
        await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task SendBodyAsync(HttpContent content)
    {
        try
        {
            var body = new Http3RequestBodyStream(_output);
            await content.CopyToAsync(body, _bodyCancellation.Token).ConfigureAwait(false);
            await _output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is ConnectionResetException or ConnectionAbortedException || Volatile.Read(ref _finished) != 0)
        {
            // The server stopped reading (RFC 9114 §4.1: it may once its response is complete), or the exchange already ended.
        }
#pragma warning disable CA1031 // The application's content failed: the request cannot complete, so cancel it on the wire.
        catch (Exception)
#pragma warning restore CA1031
        {
            Abort(Http3ErrorCode.RequestCancelled);
        }
        finally
        {
            Volatile.Write(ref _requestDone, 1);
        }
    }
}
