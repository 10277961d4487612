using System.Net.Sockets;
using System.Threading.Channels;

namespace AspNetQuicSteer.Steering.Coordination;

/// <summary>
/// One process's connection to its port's coordinator. Requests (join, ready, activate, drain, rollback, exited,
/// status) are sent one at a time and complete when the coordinator's answer arrives: JoinAccepted or Status, the
/// broadcast that confirms the change (every peer, the requester included, receives it), or an Error frame, which
/// is thrown as <see cref="CoordinatorRequestException"/>. Every broadcast is also readable from
/// <see cref="Events"/> in order.
/// <para>Disposing without <see cref="ExitedAsync"/> is, to the coordinator, a crash: the generation becomes Dead
/// (and is rolled back from if it was on probation).</para>
/// </summary>
internal sealed class GenerationCoordinatorClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly SemaphoreSlim _requestGate = new(1, 1);
    private readonly SemaphoreSlim _sendGate = new(1, 1);
    private readonly Lock _pendingGate = new();
    private readonly Channel<CoordinatorMessage> _events = Channel.CreateUnbounded<CoordinatorMessage>(new UnboundedChannelOptions { SingleWriter = true });
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _receiveLoop;
    private Pending? _pending;
    private ErrorMessage? _lastError;
    private Exception? _closeReason;
    private int _disposed;

    private GenerationCoordinatorClient(Socket socket, string path, PeerCredentials server)
    {
        _socket = socket;
        Path = path;
        ServerCredentials = server;
        _receiveLoop = Task.Run(ReceiveLoopAsync);
    }

    public string Path { get; }

    /// <summary>SO_PEERCRED of the coordinator: the host process's pid and uid as of its listen(2).</summary>
    public PeerCredentials ServerCredentials { get; }

    /// <summary>This connection's generation once joined.</summary>
    public GenerationId? Generation { get; private set; }

    /// <summary>Broadcasts (Ready, Activate, Drain, Exited, Rollback) and unsolicited Errors, in arrival order; completes when the connection ends.</summary>
    public ChannelReader<CoordinatorMessage> Events => _events.Reader;

    /// <summary>Completes when the connection to the coordinator has ended (the host exited or closed us).</summary>
    public Task Closed => _closed.Task;

    /// <summary>
    /// Connects to the coordinator at <paramref name="path"/> and checks, with SO_PEERCRED on the connected socket
    /// (socket(7): the credentials of the peer as of its listen(2)), that it runs as this process's uid: joining
    /// another user's group would hand it control of this process's traffic.
    /// </summary>
    public static async Task<GenerationCoordinatorClient> ConnectAsync(string path, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("The generation coordinator needs Linux (SOCK_SEQPACKET, SO_PEERCRED).");
        var socket = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
            PeerCredentials server = CoordinatorInterop.GetPeerCredentials(socket);
            uint uid = CoordinatorInterop.EffectiveUid;
            if (server.Uid != uid)
            {
                throw new CoordinatorRequestException(
                    CoordinatorErrorCode.PermissionDenied,
                    $"control socket {path} belongs to uid {server.Uid} (pid {server.Pid}); process of uid {uid} may not join");
            }

            return new GenerationCoordinatorClient(socket, path, server);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public IAsyncEnumerable<CoordinatorMessage> ReadEventsAsync(CancellationToken cancellationToken) => _events.Reader.ReadAllAsync(cancellationToken);

    /// <summary>Joins the group; the coordinator allocates a generation unless <see cref="JoinMessage.RequestedGeneration"/> is set.</summary>
    public async Task<JoinAcceptedMessage> JoinAsync(JoinMessage join, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(join);
        var accepted = (JoinAcceptedMessage)await RequestAsync(join, m => m is JoinAcceptedMessage, cancellationToken).ConfigureAwait(false);
        Generation = accepted.Generation;
        return accepted;
    }

    /// <summary>Joins as a fresh generation of <paramref name="appName"/>.</summary>
    public Task<JoinAcceptedMessage> JoinAsync(string appName, CancellationToken cancellationToken, GenerationId? requested = null, CoordinatorCapabilities capabilities = CoordinatorCapabilities.None)
        => JoinAsync(new JoinMessage(Environment.ProcessId, requested, appName, [], capabilities), cancellationToken);

    /// <summary>Reports this generation Ready; completes on the Ready broadcast.</summary>
    public Task ReadyAsync(CancellationToken cancellationToken)
    {
        GenerationId own = Own();
        return RequestAsync(new ReadyMessage(own), m => m is ReadyMessage r && r.Generation == own, cancellationToken);
    }

    /// <summary>Activates <paramref name="generation"/> (default: this one); completes on its Activate broadcast.</summary>
    public Task ActivateAsync(CancellationToken cancellationToken, GenerationId? generation = null)
    {
        GenerationId target = generation ?? Own();
        return RequestAsync(new ActivateMessage(target), m => m is ActivateMessage a && a.Generation == target, cancellationToken);
    }

    /// <summary>Drains <paramref name="generation"/> (default: this one); completes on its Drain broadcast.</summary>
    public Task DrainAsync(CancellationToken cancellationToken, GenerationId? generation = null)
    {
        GenerationId target = generation ?? Own();
        return RequestAsync(new DrainMessage(target), m => m is DrainMessage d && d.Generation == target, cancellationToken);
    }

    /// <summary>Makes the Draining generation <paramref name="to"/> active again; completes on the Rollback broadcast.</summary>
    public Task RollbackAsync(GenerationId to, CancellationToken cancellationToken)
        => RequestAsync(new RollbackMessage(to, null), m => m is RollbackMessage r && r.To == to, cancellationToken);

    /// <summary>Reports a clean exit with the final counters; completes on the Exited broadcast. Dispose afterwards.</summary>
    public Task ExitedAsync(GenerationCounters counters, string reason, CancellationToken cancellationToken)
    {
        GenerationId own = Own();
        return RequestAsync(new ExitedMessage(own, ExitKind.Clean, counters, reason), m => m is ExitedMessage e && e.Generation == own, cancellationToken);
    }

    /// <summary>
    /// Sends this generation's current counters for the status view. Not acknowledged, but the coordinator handles
    /// one connection's frames in order, so any later request on this client sees the report applied.
    /// </summary>
    public Task ReportAsync(GenerationCounters counters, CancellationToken cancellationToken)
        => SendAsync(new ReportMessage(Own(), counters), cancellationToken);

    /// <summary>The coordinator's generation table (allowed before joining).</summary>
    public async Task<StatusMessage> GetStatusAsync(CancellationToken cancellationToken)
        => (StatusMessage)await RequestAsync(StatusRequestMessage.Instance, m => m is StatusMessage, cancellationToken).ConfigureAwait(false);

    /// <summary>Closes the connection without Exited (to the coordinator: this generation crashed, unless it exited first).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        await _receiveLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        // The gates are not disposed: a request still in flight on another thread must be able to release them
        // (it fails with the connection-ended IOException); SemaphoreSlim holds no OS handle unless asked for one.
        _stopping.Dispose();
    }

    private GenerationId Own() => Generation ?? throw new InvalidOperationException("Join the coordinator first.");

    private async Task<CoordinatorMessage> RequestAsync(CoordinatorMessage request, Func<CoordinatorMessage, bool> answers, CancellationToken cancellationToken)
    {
        await _requestGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var pending = new Pending(answers);
            lock (_pendingGate)
            {
                if (_closed.Task.IsCompleted) throw ConnectionEnded();
                _pending = pending;
            }

            try
            {
                await SendAsync(request, cancellationToken).ConfigureAwait(false);
                return await pending.Completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                lock (_pendingGate)
                {
                    if (_pending == pending) _pending = null;
                }
            }
        }
        finally
        {
            _requestGate.Release();
        }
    }

    private async Task SendAsync(CoordinatorMessage message, CancellationToken cancellationToken)
    {
        byte[] frame = message.ToArray();
        await _sendGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _socket.SendAsync(frame, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            throw new IOException($"Sending {message.Type} to the coordinator at {Path} failed: {e.Message}", e);
        }
        finally
        {
            _sendGate.Release();
        }
    }

    private async Task ReceiveLoopAsync()
    {
        byte[] buffer = new byte[CoordinatorMessage.MaxFrameLength + 1];
        try
        {
            while (true)
            {
                int received = await _socket.ReceiveAsync(buffer, SocketFlags.None, _stopping.Token).ConfigureAwait(false);
                if (received == 0) break;
                if (received > CoordinatorMessage.MaxFrameLength)
                {
                    throw new CoordinatorProtocolException($"The coordinator sent a frame longer than {CoordinatorMessage.MaxFrameLength} bytes.");
                }

                Deliver(CoordinatorMessage.Parse(buffer.AsSpan(0, received)));
            }
        }
        catch (CoordinatorProtocolException e)
        {
            _closeReason = e; // a coordinator that speaks garbage is left: the connection ends here
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        finally
        {
            Pending? pending;
            lock (_pendingGate)
            {
                _closed.TrySetResult();
                pending = _pending;
                _pending = null;
            }

            pending?.Completion.TrySetException(ConnectionEnded());
            _events.Writer.TryComplete();
            _socket.Dispose();
        }
    }

    private void Deliver(CoordinatorMessage message)
    {
        Pending? pending;
        lock (_pendingGate) pending = _pending;
        switch (message)
        {
            case ErrorMessage error:
                if (pending is not null)
                {
                    pending.Completion.TrySetException(new CoordinatorRequestException(error.Code, error.Message));
                }
                else
                {
                    _lastError = error;
                    _events.Writer.TryWrite(error);
                }

                break;
            case JoinAcceptedMessage or StatusMessage:
                if (pending is not null && pending.Answers(message)) pending.Completion.TrySetResult(message);
                break;
            case ReadyMessage or ActivateMessage or DrainMessage or ExitedMessage or RollbackMessage:
                if (pending is not null && pending.Answers(message)) pending.Completion.TrySetResult(message);
                _events.Writer.TryWrite(message);
                break;
            default:
                throw new CoordinatorProtocolException(CoordinatorErrorCode.UnexpectedMessage, $"The coordinator sent {message.Type}, which only clients send.");
        }
    }

    private IOException ConnectionEnded()
    {
        string detail = _lastError is { } error ? $" after Error {error.Code}: {error.Message}"
            : _closeReason is { } reason ? $": {reason.Message}"
            : string.Empty;
        return new IOException($"The control connection to the coordinator at {Path} has ended{detail}.", _closeReason);
    }

    private sealed class Pending(Func<CoordinatorMessage, bool> answers)
    {
        public Func<CoordinatorMessage, bool> Answers { get; } = answers;

        public TaskCompletionSource<CoordinatorMessage> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
