using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using AspNetQuicSteer.Quic.Connection;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace AspNetQuicSteer.Kestrel.Internal;

/// <summary>
/// One QUIC stream as Kestrel sees it: a <see cref="ConnectionContext"/> whose <see cref="Transport"/> is two pipes,
/// and the six stream features Kestrel's HTTP/3 requires (KESTREL.md §1). Its features fall back to the connection's,
/// so TLS and lifetime notification are visible from requests.
/// <para>Threading: Kestrel calls in from any thread; the QUIC state is touched only on the listener's loop thread
/// (the <c>Loop*</c> members, see <c>QuicSteeringStreamContext.Pumps.cs</c>).</para>
/// </summary>
internal sealed partial class QuicSteeringStreamContext : ConnectionContext,
    IStreamDirectionFeature, IStreamIdFeature, IProtocolErrorCodeFeature, IStreamClosedFeature, IStreamAbortFeature,
    IPersistentStateFeature, IConnectionIdFeature, IConnectionEndPointFeature, IConnectionItemsFeature
{
    private readonly QuicSteeringConnectionContext _connection;
    private readonly QuicConnection _quic;
    private readonly Pipe _input;
    private readonly Pipe _output;
    private readonly FeatureCollection _features;
    private readonly CancellationTokenSource _closedTokenSource = new();
    private readonly object _closeCallbacksLock = new();
    private List<(Action<object?> Callback, object? State)>? _closeCallbacks;
    private bool _closedFired;
    private string? _connectionId;
    private IDictionary<object, object?>? _items;
    private IDictionary<object, object?>? _persistentState;
    private long _error = -1;

    public QuicSteeringStreamContext(QuicSteeringConnectionContext connection, ulong streamId, bool canRead, bool canWrite)
    {
        _connection = connection;
        _quic = connection.Quic;
        StreamId = (long)streamId;
        CanRead = canRead;
        CanWrite = canWrite;

        QuicSteeringTransportOptions options = connection.Options;
        var pool = MemoryPool<byte>.Shared;

        // Input: the loop thread writes (never blocking: a pending flush pauses reading from QUIC, which withholds
        // MAX_STREAM_DATA credit, RFC 9000 §4.1), Kestrel reads on the thread pool.
        _input = new Pipe(new PipeOptions(pool, readerScheduler: PipeScheduler.ThreadPool, writerScheduler: PipeScheduler.Inline,
            pauseWriterThreshold: options.MaxReadBufferSize, resumeWriterThreshold: options.MaxReadBufferSize / 2,
            minimumSegmentSize: 16 * 1024, useSynchronizationContext: false));

        // Output: Kestrel writes; the loop thread takes the bytes into the QUIC send buffer.
        _output = new Pipe(new PipeOptions(pool, readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.ThreadPool,
            pauseWriterThreshold: options.MaxWriteBufferSize, resumeWriterThreshold: options.MaxWriteBufferSize / 2,
            useSynchronizationContext: false));

        Transport = new DuplexPipe(_input.Reader, _output.Writer);
        _features = new FeatureCollection(connection.Features);
        _features.Set<IStreamDirectionFeature>(this);
        _features.Set<IStreamIdFeature>(this);
        _features.Set<IProtocolErrorCodeFeature>(this);
        _features.Set<IStreamClosedFeature>(this);
        _features.Set<IStreamAbortFeature>(this);
        _features.Set<IPersistentStateFeature>(this);
        _features.Set<IConnectionIdFeature>(this);
        _features.Set<IConnectionEndPointFeature>(this);
        _features.Set<IConnectionItemsFeature>(this);

        _onOutputReady = OnOutputReadyFromWriter;
        _loopOnOutputReady = LoopOnOutputReady;
        _onInputFlushed = OnInputFlushedFromReader;
        _loopResumeInput = LoopResumeInput;

        if (!canWrite) _output.Reader.Complete();
    }

    public bool CanRead { get; }

    public bool CanWrite { get; }

    public long StreamId { get; }

    internal ulong QuicStreamId => (ulong)StreamId;

    /// <summary>An outbound unidirectional stream Kestrel opened (its control stream): never reports closed while the connection lives.</summary>
    internal bool IsLocalUnidirectional => !CanRead;

    public long Error
    {
        get => Interlocked.Read(ref _error);
        set => ProtocolErrorCode.Set(ref _error, value);
    }

    public override string ConnectionId
    {
        get => _connectionId ??= $"{_connection.ConnectionId}:{StreamId:D8}";
        set => _connectionId = value;
    }

    public override IFeatureCollection Features => _features;

    public override IDictionary<object, object?> Items
    {
        get => _items ??= new ConnectionItems();
        set => _items = value;
    }

    public override IDuplexPipe Transport { get; set; }

    public override EndPoint? LocalEndPoint
    {
        get => _connection.LocalEndPoint;
        set => throw new NotSupportedException("A stream's local endpoint is its connection's.");
    }

    public override EndPoint? RemoteEndPoint
    {
        get => _connection.RemoteEndPoint;
        set => throw new NotSupportedException("A stream's remote endpoint is its connection's.");
    }

    public override CancellationToken ConnectionClosed
    {
        get => _closedTokenSource.Token;
        set => throw new NotSupportedException();
    }

    IDictionary<object, object?> IPersistentStateFeature.State => _persistentState ??= new ConnectionItems();

    /// <summary>
    /// Registers a callback for when both directions are finished (or the connection ended). Kestrel's Http3Stream
    /// aborts itself from it when <see cref="Error"/> was set by a peer reset (KESTREL.md §7).
    /// </summary>
    public void OnClosed(Action<object?> callback, object? state)
    {
        ArgumentNullException.ThrowIfNull(callback);
        lock (_closeCallbacksLock)
        {
            if (!_closedFired)
            {
                (_closeCallbacks ??= []).Add((callback, state));
                return;
            }
        }

        callback(state);
    }

    /// <summary>Resets both directions with <see cref="Error"/> (or the default stream code).</summary>
    /// <summary>The code of an abort of the sending side Kestrel asked for and the loop has not yet run; -1 for none.</summary>
    private long _abortRequestedCode = -1;

    public override void Abort(ConnectionAbortedException abortReason)
    {
        long code = Error >= 0 ? Error : _connection.Options.DefaultStreamErrorCode;
        QuicSteeringLog.StreamAborted(_connection.Logger, _connection.ConnectionId, QuicStreamId, code);
        // Kestrel aborts, then disposes (completing its output pipe) at once: if the loop sees that completion before
        // it runs the posted abort, the response must still end in RESET_STREAM, never in a FIN (an empty "response"
        // the client would take as malformed, e.g. a request rejected with H3_REQUEST_REJECTED, RFC 9114 §4.1.1).
        Interlocked.CompareExchange(ref _abortRequestedCode, code, -1);
        _connection.Post(() => LoopAbort((ulong)code, abortReason));
    }

    /// <summary>STOP_SENDING with <paramref name="errorCode"/> (RFC 9000 §3.5): Kestrel stops reading the request.</summary>
    public void AbortRead(long errorCode, ConnectionAbortedException abortReason)
    {
        _connection.Post(() => LoopAbortRead((ulong)errorCode, abortReason));
    }

    /// <summary>RESET_STREAM with <paramref name="errorCode"/> (RFC 9000 §3.1): Kestrel abandons the response.</summary>
    public void AbortWrite(long errorCode, ConnectionAbortedException abortReason)
    {
        Interlocked.CompareExchange(ref _abortRequestedCode, errorCode, -1);
        _connection.Post(() => LoopAbortWrite((ulong)errorCode, abortReason));
    }

    /// <summary>
    /// Kestrel's end of a request: its pipes are done with. Completes our ends so nothing waits on them; the QUIC
    /// stream keeps delivering what was written until it is acknowledged.
    /// </summary>
    public override ValueTask DisposeAsync()
    {
        _input.Reader.Complete();
        _output.Writer.Complete();
        return base.DisposeAsync();
    }

    /// <summary>
    /// Runs the close callbacks once, on the thread pool (never on the loop thread: they call back into Kestrel), then
    /// fails the input with <paramref name="inputFailure"/> if given. False when the callbacks already ran (the caller
    /// then completes the input itself).
    /// </summary>
    private bool FireClosed(Exception? inputFailure = null)
    {
        List<(Action<object?> Callback, object? State)>? callbacks;
        lock (_closeCallbacksLock)
        {
            if (_closedFired) return false;
            _closedFired = true;
            callbacks = _closeCallbacks;
            _closeCallbacks = null;
        }

        ThreadPool.UnsafeQueueUserWorkItem(static s =>
        {
            (QuicSteeringStreamContext stream, List<(Action<object?> Callback, object? State)>? callbacks, Exception? inputFailure) = s;
            stream._closedTokenSource.Cancel();
            if (callbacks is not null)
            {
                foreach ((Action<object?> callback, object? state) in callbacks) callback(state);
            }

            // The loop no longer touches the input writer once it handed the failure over (its input is done).
            if (inputFailure is not null) stream._input.Writer.Complete(inputFailure);
        }, (this, callbacks, inputFailure), preferLocal: false);
        return true;
    }
}
