using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Net.Sockets;
using System.Threading.Channels;

namespace AspNetQuicSteer.Steering.Coordination;

/// <summary>
/// The socket shell around <see cref="GenerationCoordinatorState"/>: listens on the port's control socket
/// (AF_UNIX, SOCK_SEQPACKET), admits only peers of its own uid (SO_PEERCRED), decodes frames, applies them to the
/// state machine under one lock and queues the resulting broadcasts to every peer. A peer whose connection ends
/// without Exited is dead; that is processed the moment the read returns end-of-file, which the kernel delivers
/// when the process dies (its descriptors are closed), so a crash is seen within milliseconds.
/// <para>Nothing a peer sends can stop the coordinator (Invariant 7): malformed frames, foreign versions and
/// protocol misuse close that peer only; a peer that does not read its frames is closed when its queue is full,
/// so a slow peer never blocks the lock or the other peers.</para>
/// </summary>
internal sealed class GenerationCoordinatorServer : IAsyncDisposable
{
    private const UnixFileMode SocketMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly Lock _gate = new();
    private readonly GenerationCoordinatorState _state;
    private readonly GenerationCoordinatorOptions _options;
    private readonly Socket _listener;
    private readonly SafeLockHandle _hostLock;
    private readonly HashSet<Peer> _peers = [];
    private readonly List<Task> _peerTasks = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly long _started;
    private readonly uint _uid;
    private readonly Task _acceptLoop;
    private readonly List<CoordinatorMessage> _broadcastQueue = [];
    private bool _broadcasting;
    private int _nextPeerId;
    private bool _stopped;

    private GenerationCoordinatorServer(string path, GenerationCoordinatorOptions options, Socket listener, SafeLockHandle hostLock, uint uid)
    {
        Path = path;
        _options = options;
        _listener = listener;
        _hostLock = hostLock;
        _uid = uid;
        _state = new GenerationCoordinatorState(options.Probation);
        _started = options.TimeProvider.GetTimestamp();
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public string Path { get; }

    /// <summary>The coordinator's clock, in whole milliseconds: the resolution of the wire format, so the host's own status view equals what peers receive.</summary>
    private TimeSpan Now => TimeSpan.FromMilliseconds((long)_options.TimeProvider.GetElapsedTime(_started).TotalMilliseconds);

    /// <summary>
    /// Becomes the coordinator of <paramref name="path"/> unless another process already is. The host is elected
    /// with an exclusive flock(2) on <c>&lt;path&gt;.lock</c>: whoever holds it serves the socket, and the kernel
    /// releases it when the holder dies. Holding the lock, an existing socket file is probed with connect(2):
    /// ECONNREFUSED means nobody listens on it (unix(7): "The remote address specified by connect(2) was not a
    /// listening socket") so it is stale and is replaced; an answer means a coordinator that does not take the lock
    /// is live, and the caller joins it instead. Returns false when the caller should join.
    /// </summary>
    public static bool TryStart(string path, GenerationCoordinatorOptions? options, [NotNullWhen(true)] out GenerationCoordinatorServer? server)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("The generation coordinator needs Linux (SOCK_SEQPACKET, SO_PEERCRED).");
        options ??= new GenerationCoordinatorOptions();
        server = null;
        SafeLockHandle? hostLock = CoordinatorInterop.TryLockExclusive(path + ".lock");
        if (hostLock is null) return false;

        Socket? listener = null;
        try
        {
            if (CoordinatorInterop.TryStat(path) is { } existing)
            {
                if ((existing.Mode & CoordinatorInterop.S_IFMT) != CoordinatorInterop.S_IFSOCK)
                {
                    throw new InvalidOperationException($"{path} exists and is not a socket; refusing to replace it with the control socket.");
                }

                if (Answers(path))
                {
                    hostLock.Dispose();
                    return false;
                }

                File.Delete(path);
                options.Log?.Invoke($"coordinator: removed stale control socket {path} (nobody listening)");
            }

            listener = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(path));
            // unix(7): connecting to a pathname socket needs write permission on it, so 0600 keeps other users out
            // at the file system level; SO_PEERCRED stays the authority (unix(7) calls relying on the permission
            // non-portable, and root bypasses it).
            File.SetUnixFileMode(path, SocketMode);
            listener.Listen(64);
            server = new GenerationCoordinatorServer(path, options, listener, hostLock, CoordinatorInterop.EffectiveUid);
            options.Log?.Invoke($"coordinator: hosting {path} (pid {Environment.ProcessId}, uid {server._uid})");
            return true;
        }
        catch
        {
            listener?.Dispose();
            hostLock.Dispose();
            throw;
        }
    }

    /// <summary>The status view as the coordinator sees it now.</summary>
    public StatusMessage GetStatus()
    {
        lock (_gate) return _state.Snapshot(Now);
    }

    /// <summary>
    /// Stops serving: removes the socket file, closes every peer (they see their connection end and can elect a
    /// new host, see <see cref="GenerationCoordinator.ConnectOrHostAsync"/>), then releases the host lock.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        Task[] tasks;
        lock (_gate)
        {
            if (_stopped) return;
            _stopped = true;
            foreach (Peer peer in _peers) peer.Abort();
            _peers.Clear();
            tasks = [.. _peerTasks];
        }

        try
        {
            File.Delete(Path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await _acceptLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        foreach (Task task in tasks) await task.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stopping.Dispose();
        _hostLock.Dispose();
    }

    private static bool Answers(string path)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return false;
        }
        catch (SocketException e)
        {
            throw new InvalidOperationException($"Cannot probe the existing control socket {path}: {e.Message}", e);
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                // EMFILE and friends: log, back off a little, keep serving the peers already connected.
                Log($"accept failed: {e.SocketErrorCode} {e.Message}");
                await Task.Delay(TimeSpan.FromMilliseconds(50), _options.TimeProvider, CancellationToken.None).ConfigureAwait(false);
                continue;
            }

            Admit(socket);
        }
    }

    private void Admit(Socket socket)
    {
        PeerCredentials credentials;
        try
        {
            credentials = CoordinatorInterop.GetPeerCredentials(socket);
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            Log($"SO_PEERCRED failed on an accepted connection ({e.Message}); closing it");
            socket.Dispose();
            return;
        }

        lock (_gate)
        {
            var peer = new Peer(++_nextPeerId, socket, credentials, _options.MaxQueuedFramesPerPeer);
            _peerTasks.RemoveAll(t => t.IsCompleted);
            _peerTasks.Add(Task.Run(() => WriteLoopAsync(peer)));
            if (_stopped)
            {
                peer.Abort();
                return;
            }

            if (credentials.Uid != _uid)
            {
                // Invariant 5: only a process of the same user may join the port's generation group.
                string text = $"control socket {Path} belongs to uid {_uid}; process of uid {credentials.Uid} may not join";
                Log($"refused pid {credentials.Pid}: {text}");
                peer.CloseAfter(new ErrorMessage(CoordinatorErrorCode.PermissionDenied, text));
                return;
            }

            if (_peers.Count >= _options.MaxConnections)
            {
                Log($"refused pid {credentials.Pid}: {_peers.Count} control connections already");
                peer.CloseAfter(new ErrorMessage(CoordinatorErrorCode.Overloaded, $"the coordinator of {Path} already has {_peers.Count} control connections"));
                return;
            }

            _peers.Add(peer);
            _peerTasks.Add(Task.Run(() => ReadLoopAsync(peer)));
        }
    }

    private async Task ReadLoopAsync(Peer peer)
    {
        // One more byte than the largest frame: a SOCK_SEQPACKET message longer than the buffer is truncated (the
        // rest discarded), so filling the whole buffer means the frame was too long.
        byte[] buffer = ArrayPool<byte>.Shared.Rent(CoordinatorMessage.MaxFrameLength + 1);
        try
        {
            while (true)
            {
                int received = await peer.Socket.ReceiveAsync(buffer.AsMemory(0, CoordinatorMessage.MaxFrameLength + 1), SocketFlags.None, _stopping.Token).ConfigureAwait(false);
                if (received == 0) break; // end of file: the peer closed or its process died (a zero-length message is no frame either)
                if (!Handle(peer, buffer.AsSpan(0, received))) return;
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        lock (_gate) Close(peer, null, "control connection closed", abort: false);
    }

    private async Task WriteLoopAsync(Peer peer)
    {
        try
        {
            await foreach (byte[] frame in peer.Outbound.Reader.ReadAllAsync(_stopping.Token).ConfigureAwait(false))
            {
                await peer.Socket.SendAsync(frame, SocketFlags.None, _stopping.Token).ConfigureAwait(false);
            }

            await LingerAsync(peer.Socket).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        finally
        {
            peer.Socket.Dispose(); // wakes the read loop, which then reports the peer gone (idempotent)
        }
    }

    /// <summary>
    /// A graceful close: end-of-file after the last frame, then discard what the peer still sends until it closes
    /// (at most a second). Closing with unread data in our receive queue would make Linux report ECONNRESET to the
    /// peer (unix_release_sock), and a pending error is returned before queued data, so the peer could lose the
    /// Error frame that explains why it was closed (a refused uid would see "connection reset" instead of
    /// PermissionDenied). Only the write loop reads here: graceful closes happen after the read loop stopped or,
    /// for refused peers, without one.
    /// </summary>
    private async Task LingerAsync(Socket socket)
    {
        socket.Shutdown(SocketShutdown.Send);
        using var linger = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        linger.CancelAfter(TimeSpan.FromSeconds(1));
        byte[] discard = new byte[256];
        while (await socket.ReceiveAsync(discard, SocketFlags.None, linger.Token).ConfigureAwait(false) > 0)
        {
        }
    }

    /// <summary>Handles one frame; false when the peer was closed because of it.</summary>
    private bool Handle(Peer peer, ReadOnlySpan<byte> frame)
    {
        lock (_gate)
        {
            if (peer.Closed) return false;
            if (frame.Length > CoordinatorMessage.MaxFrameLength)
            {
                Fatal(peer, CoordinatorErrorCode.MalformedFrame, $"frame longer than {CoordinatorMessage.MaxFrameLength} bytes");
                return false;
            }

            CoordinatorMessage message;
            try
            {
                message = CoordinatorMessage.Parse(frame);
            }
            catch (CoordinatorProtocolException e)
            {
                Fatal(peer, e.ErrorCode, e.Message);
                return false;
            }

            try
            {
                Dispatch(peer, message);
            }
            catch (CoordinatorRequestException e)
            {
                Log($"peer {peer.Id} (pid {peer.Credentials.Pid}) {message.Type} refused: {e.ErrorCode}: {e.Message}");
                Send(peer, new ErrorMessage(e.ErrorCode, e.Message).ToArray());
            }
#pragma warning disable CA1031 // Invariant 7: a bug handling one peer's frame closes that peer, never the coordinator.
            catch (Exception e)
#pragma warning restore CA1031
            {
                Log($"BUG handling {message.Type} from peer {peer.Id}: {e}");
                Fatal(peer, CoordinatorErrorCode.InternalError, $"internal error handling {message.Type}: {e.GetType().Name}");
            }

            return !peer.Closed;
        }
    }

    private void Dispatch(Peer peer, CoordinatorMessage message)
    {
        TimeSpan now = Now;
        switch (message)
        {
            case JoinMessage join:
                if (peer.Generation is { } joined)
                {
                    throw new CoordinatorRequestException(CoordinatorErrorCode.AlreadyJoined, $"this connection already joined as {joined}");
                }

                JoinAcceptedMessage accepted = _state.Join(now, peer.Credentials.Pid, join);
                peer.Generation = accepted.Generation;
                Log($"{accepted.Generation} joined: pid {peer.Credentials.Pid}, app '{join.AppName}'"
                    + (join.ResumeState is { } resumed ? $", resuming as {resumed}" : string.Empty)
                    + (join.Pid != peer.Credentials.Pid ? $" (claimed pid {join.Pid})" : string.Empty));
                Send(peer, accepted.ToArray());
                break;
            case ReadyMessage ready:
                Broadcast(_state.Ready(now, RequireOwn(peer, ready.Generation)));
                break;
            case ActivateMessage activate:
                Broadcast(_state.Activate(now, activate.Generation));
                break;
            case DrainMessage drain:
                Broadcast(_state.Drain(now, drain.Generation));
                break;
            case RollbackMessage rollback:
                Broadcast(_state.Rollback(now, rollback.To));
                break;
            case ExitedMessage exited:
                Broadcast(_state.Exited(now, RequireOwn(peer, exited.Generation), exited.Counters, exited.Reason));
                break;
            case ReportMessage report:
                _state.Report(RequireOwn(peer, report.Generation), report.Counters);
                break;
            case StatusRequestMessage:
                Send(peer, _state.Snapshot(now).ToArray());
                break;
            default:
                Fatal(peer, CoordinatorErrorCode.UnexpectedMessage, $"{message.Type} is sent by the coordinator, never to it");
                break;
        }
    }

    private static GenerationId RequireOwn(Peer peer, GenerationId generation)
    {
        if (peer.Generation is not { } own)
        {
            throw new CoordinatorRequestException(CoordinatorErrorCode.NotJoined, "join first");
        }

        return own == generation
            ? generation
            : throw new CoordinatorRequestException(CoordinatorErrorCode.NotOwner, $"this connection is {own}; it cannot speak for {generation}");
    }

    /// <summary>
    /// Queues <paramref name="events"/> to every connected peer, in order. A peer closed while this runs (its queue
    /// overflowed) produces events of its own; they are appended rather than interleaved, so every peer sees the
    /// same sequence.
    /// </summary>
    private void Broadcast(IReadOnlyList<CoordinatorMessage> events)
    {
        _broadcastQueue.AddRange(events);
        if (_broadcasting) return;
        _broadcasting = true;
        try
        {
            for (int i = 0; i < _broadcastQueue.Count; i++)
            {
                CoordinatorMessage message = _broadcastQueue[i];
                Log($"event {message}");
                byte[] frame = message.ToArray();
                foreach (Peer peer in _peers.ToArray()) Send(peer, frame);
            }
        }
        finally
        {
            _broadcastQueue.Clear();
            _broadcasting = false;
        }
    }

    private void Send(Peer peer, byte[] frame)
    {
        if (peer.Closed) return;
        if (!peer.Outbound.Writer.TryWrite(frame))
        {
            Close(peer, null, $"{_options.MaxQueuedFramesPerPeer} frames queued and not read", abort: true);
        }
    }

    private void Fatal(Peer peer, CoordinatorErrorCode code, string text)
        => Close(peer, new ErrorMessage(code, text), $"{code}: {text}", abort: false);

    /// <summary>Under the lock: forget the peer, end its connection, and if it was a live generation, declare it dead.</summary>
    private void Close(Peer peer, ErrorMessage? lastWords, string reason, bool abort)
    {
        if (peer.Closed) return;
        if (abort) peer.Abort();
        else peer.CloseAfter(lastWords);
        if (!_peers.Remove(peer) || _stopped) return;
        Log($"peer {peer.Id} (pid {peer.Credentials.Pid}{(peer.Generation is { } g ? $", {g}" : string.Empty)}) closed: {reason}");
        if (peer.Generation is { } generation) Broadcast(_state.PeerLost(Now, generation));
    }

    private void Log(string message) => _options.Log?.Invoke($"coordinator: {message}");

    private sealed class Peer(int id, Socket socket, PeerCredentials credentials, int maxQueued)
    {
        public int Id { get; } = id;

        public Socket Socket { get; } = socket;

        public PeerCredentials Credentials { get; } = credentials;

        public Channel<byte[]> Outbound { get; } = Channel.CreateBounded<byte[]>(
            new BoundedChannelOptions(maxQueued) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

        public GenerationId? Generation { get; set; }

        public bool Closed { get; private set; }

        /// <summary>Queue <paramref name="lastWords"/> (if any), then shut the connection down once the queue is written.</summary>
        public void CloseAfter(ErrorMessage? lastWords)
        {
            if (Closed) return;
            Closed = true;
            if (lastWords is not null) Outbound.Writer.TryWrite(lastWords.ToArray());
            Outbound.Writer.TryComplete();
        }

        /// <summary>Close now, dropping whatever is queued (a peer that does not read, or shutdown).</summary>
        public void Abort()
        {
            Closed = true;
            Outbound.Writer.TryComplete();
            Socket.Dispose();
        }
    }
}
