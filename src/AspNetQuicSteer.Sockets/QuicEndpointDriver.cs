using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using AspNetQuicSteer.Quic.Endpoint;

namespace AspNetQuicSteer.Sockets;

/// <summary>
/// Runs one sans-IO <see cref="QuicEndpoint"/> over one <see cref="BatchedUdpSocket"/> on a dedicated thread.
/// <para>Each turn: run posted work; receive one batch (recvmmsg, GRO segments split) into
/// <see cref="QuicEndpoint.HandleDatagram"/>; invoke the turn hook (application pumping); run due timers; drain
/// <see cref="QuicEndpoint.TryPollTransmit"/> into a send batch and hand it to sendmmsg (GSO coalesces same-size
/// runs to one destination); then wait in poll(2) until a datagram arrives, the endpoint's next timer, or
/// <see cref="QuicEndpointDriverOptions.MaxWait"/>, whichever is first.</para>
/// <para>The endpoint and its connections are not thread-safe: touch them only from the loop thread, i.e. inside
/// <see cref="Post"/>/<see cref="InvokeAsync{T}"/> work or the turn hook. There is no wake-up descriptor; posted
/// work waits at most <see cref="QuicEndpointDriverOptions.MaxWait"/> (plus the turn in progress).</para>
/// <para>Steady state allocates nothing per datagram: batches are preallocated, peers' sockaddrs map to cached
/// <see cref="IPEndPoint"/> instances, and the last destination's sockaddr is reused while the endpoint keeps
/// returning the same <see cref="EndPoint"/> instance.</para>
/// The driver owns the socket and the endpoint and disposes both.
/// </summary>
internal sealed class QuicEndpointDriver : IDisposable
{
    /// <summary>Peers remembered by the sockaddr → endpoint cache (round-robin replacement).</summary>
    internal const int RemoteCacheSize = 16;

    /// <summary>Send batches per turn at most, so a bulk sender cannot starve receiving (ACKs) and timers.</summary>
    private const int MaxSendBatchesPerTurn = 4;

    private static readonly TimeSpan StopJoinTimeout = TimeSpan.FromSeconds(5);

    private readonly BatchedUdpSocket _socket;
    private readonly QuicEndpoint _endpoint;
    private readonly TimeProvider _time;
    private readonly long _startTimestamp;
    private readonly TimeSpan _maxWait;
    private readonly DatagramBatch _receiveBatch;
    private readonly DatagramBatch _sendBatch;
    private readonly ConcurrentQueue<Action<bool>> _work = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Thread _thread;

    private readonly byte[] _cachedAddresses = new byte[RemoteCacheSize * SocketAddressCodec.MaxLength];
    private readonly int[] _cachedLengths = new int[RemoteCacheSize];
    private readonly IPEndPoint?[] _cachedEndPoints = new IPEndPoint?[RemoteCacheSize];
    private int _lastCacheHit;
    private int _nextCacheVictim;

    private readonly byte[] _destinationAddress = new byte[SocketAddressCodec.MaxLength];
    private int _destinationLength;
    private IPEndPoint? _destination;

    /// <summary>False only right after poll(2) timed out with nothing to read: the next receive call is skipped.</summary>
    private bool _mayBeReadable = true;

    private int _pendingStart;
    private int _pendingCount;

    private Action? _turnHook;
    private volatile bool _stopRequested;
    private int _started;
    private int _disposed;

    private long _turns;
    private long _datagramsReceived;
    private long _datagramsSent;
    private long _truncatedDatagrams;
    private long _datagramErrors;
    private long _sendErrors;
    private long _receiveErrors;
    private long _remoteEndPointsCreated;
    private int _largestReceiveBatch;
    private int _largestSendBatch;

    internal QuicEndpointDriver(BatchedUdpSocket socket, QuicEndpoint endpoint, QuicEndpointDriverOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ArgumentNullException.ThrowIfNull(endpoint);
        options ??= new QuicEndpointDriverOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ReceiveBatchCapacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.SendBatchCapacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxWait, TimeSpan.Zero);

        _socket = socket;
        _endpoint = endpoint;
        _time = options.TimeProvider;
        _startTimestamp = _time.GetTimestamp();
        _maxWait = options.MaxWait;
        _receiveBatch = new DatagramBatch(options.ReceiveBatchCapacity, socket.GroEnabled ? DatagramBatch.GroSlotSize : options.ReceiveSlotSize);
        _sendBatch = new DatagramBatch(options.SendBatchCapacity, options.SendSlotSize);
        _thread = new Thread(Run) { IsBackground = true, Name = "QUIC endpoint driver" };
    }

    /// <summary>Time elapsed since the driver was created: the clock the endpoint sees. Thread-safe.</summary>
    internal TimeSpan Now => _time.GetElapsedTime(_startTimestamp);

    /// <summary>The endpoint; use it only on the loop thread.</summary>
    internal QuicEndpoint Endpoint => _endpoint;

    /// <summary>The socket (diagnostics such as <see cref="BatchedUdpSocket.SendCalls"/> may be read from any thread).</summary>
    internal BatchedUdpSocket Socket => _socket;

    /// <summary>The bound local endpoint.</summary>
    internal IPEndPoint LocalEndPoint => (IPEndPoint)_socket.Socket.LocalEndPoint!;

    /// <summary>
    /// Invoked on the loop thread once per turn, after the turn's datagrams were handled and before timers and
    /// transmits, so writes it makes leave in the same turn. Set before <see cref="Start"/>.
    /// </summary>
    internal Action? TurnHook
    {
        get => _turnHook;
        set
        {
            if (Volatile.Read(ref _started) != 0) throw new InvalidOperationException("Set the turn hook before Start.");
            _turnHook = value;
        }
    }

    /// <summary>Completes when the loop thread has ended: normally after a stop, faulted if posted work or the hook threw.</summary>
    internal Task Completion => _completion.Task;

    /// <summary>True on the loop thread.</summary>
    internal bool IsLoopThread => Thread.CurrentThread == _thread;

    internal long Turns => Volatile.Read(ref _turns);

    /// <summary>Datagrams handed to the endpoint (GRO segments count one each).</summary>
    internal long DatagramsReceived => Volatile.Read(ref _datagramsReceived);

    /// <summary>Datagrams the kernel accepted.</summary>
    internal long DatagramsSent => Volatile.Read(ref _datagramsSent);

    /// <summary>Datagrams dropped because they did not fit a receive slot (MSG_TRUNC).</summary>
    internal long TruncatedDatagrams => Volatile.Read(ref _truncatedDatagrams);

    /// <summary>Datagrams whose handling threw inside the endpoint (the loop drops them and continues).</summary>
    internal long DatagramErrors => Volatile.Read(ref _datagramErrors);

    /// <summary>Datagrams dropped because the kernel refused them (e.g. EHOSTUNREACH) or had no IP destination.</summary>
    internal long SendErrors => Volatile.Read(ref _sendErrors);

    /// <summary>Receive calls that failed with a socket error.</summary>
    internal long ReceiveErrors => Volatile.Read(ref _receiveErrors);

    /// <summary>Remote endpoints allocated by the sockaddr cache (one per new peer address, not per datagram).</summary>
    internal long RemoteEndPointsCreated => Volatile.Read(ref _remoteEndPointsCreated);

    /// <summary>Most datagrams (GRO segments included) one receive call delivered: above 1 shows batching at work.</summary>
    internal int LargestReceiveBatch => Volatile.Read(ref _largestReceiveBatch);

    /// <summary>Most datagrams one send call handed to the kernel: above 1 shows sendmmsg/GSO batching at work.</summary>
    internal int LargestSendBatch => Volatile.Read(ref _largestSendBatch);

    /// <summary>The last exception a datagram's handling threw, for diagnostics.</summary>
    internal Exception? LastDatagramError { get; private set; }

    /// <summary>Starts the loop thread.</summary>
    internal void Start()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (Interlocked.Exchange(ref _started, 1) != 0) throw new InvalidOperationException("The driver is already started.");
        _thread.Start();
    }

    /// <summary>Queues <paramref name="work"/> to run on the loop thread at the start of a turn (in order).</summary>
    internal void Post(Action work)
    {
        ArgumentNullException.ThrowIfNull(work);
        _work.Enqueue(abandoned =>
        {
            if (!abandoned) work();
        });
    }

    /// <summary>
    /// Runs <paramref name="work"/> on the loop thread; the task carries its result or exception, and is canceled if
    /// the loop ends first.
    /// </summary>
    internal Task<T> InvokeAsync<T>(Func<T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        var result = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Enqueue(abandoned =>
        {
            if (abandoned)
            {
                result.TrySetCanceled();
                return;
            }

            try
            {
                result.TrySetResult(work());
            }
#pragma warning disable CA1031 // The exception belongs to the caller's task, not to the loop.
            catch (Exception e)
#pragma warning restore CA1031
            {
                result.TrySetException(e);
            }
        });

        if (_stopRequested || Completion.IsCompleted) AbandonWork();
        return result.Task;
    }

    /// <summary>Asks the loop to end after the current turn; the task completes when the thread has exited.</summary>
    internal Task StopAsync()
    {
        _stopRequested = true;
        if (Volatile.Read(ref _started) == 0) _completion.TrySetResult();
        return Completion;
    }

    /// <summary>Stops the loop (waiting a bounded time for the thread), then disposes the socket and the endpoint.</summary>
    /// <remarks>Called on the loop thread (from posted work or the hook), it returns at once and the loop disposes
    /// the socket and endpoint itself after the current turn.</remarks>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stopRequested = true;
        if (Volatile.Read(ref _started) != 0)
        {
            if (IsLoopThread) return; // Run's finally releases the resources once the turn is over.
            _thread.Join(StopJoinTimeout);
        }
        else
        {
            _completion.TrySetResult();
        }

        ReleaseResources();
    }

    private void ReleaseResources()
    {
        _socket.Dispose();
        _endpoint.Dispose();
        AbandonWork();
    }

    private void Run()
    {
        try
        {
            while (!_stopRequested)
            {
                RunTurn();
            }

            _completion.TrySetResult();
        }
#pragma warning disable CA1031 // Application work threw on the loop thread: surface it through Completion.
        catch (Exception e)
#pragma warning restore CA1031
        {
            _completion.TrySetException(e);
        }
        finally
        {
            if (Volatile.Read(ref _disposed) != 0 && IsLoopThread) ReleaseResources();
            else AbandonWork();
        }
    }

    private void RunTurn()
    {
        RunPostedWork();

        int received = _mayBeReadable ? Receive(Now) : 0;
        _mayBeReadable = true;
        _turnHook?.Invoke();

        TimeSpan now = Now;
        if (_endpoint.NextTimeout(now) is { } due && due <= now) _endpoint.HandleTimeout(now);

        TransmitState transmit = Transmit(now);
        _turns++;

        // A full receive batch or more ready transmits mean more work is queued right now: go round without waiting.
        if (received == _receiveBatch.Capacity || transmit == TransmitState.MoreReady || !_work.IsEmpty) return;

        TimeSpan wait = _maxWait;
        now = Now;
        if (_endpoint.NextTimeout(now) is { } next && next - now < wait) wait = next - now;
        if (wait <= TimeSpan.Zero) return;

        int microseconds = (int)Math.Ceiling(wait.TotalMicroseconds);
        if (transmit == TransmitState.Blocked)
        {
            // The kernel's send buffer is full: wake when it drains (receives are read next turn either way).
            _socket.WaitForSend(microseconds);
        }
        else
        {
            _mayBeReadable = _socket.WaitForReceive(microseconds);
        }
    }

    private void RunPostedWork()
    {
        // Only the items queued before this turn, so work that posts work cannot keep the loop from I/O.
        for (int count = _work.Count; count > 0 && _work.TryDequeue(out Action<bool>? item); count--)
        {
            item(false);
        }
    }

    private void AbandonWork()
    {
        while (_work.TryDequeue(out Action<bool>? item))
        {
            item(true);
        }
    }

    private int Receive(TimeSpan now)
    {
        int received;
        try
        {
            received = _socket.ReceiveBatch(_receiveBatch);
        }
        catch (SocketException)
        {
            _receiveErrors++;
            return 0;
        }

        int datagrams = 0;
        for (int slot = 0; slot < received; slot++)
        {
            if (_receiveBatch.IsTruncated(slot))
            {
                _truncatedDatagrams++;
                continue;
            }

            EndPoint remote = ResolveRemote(_receiveBatch.GetRemoteAddress(slot));
            int segments = _receiveBatch.GetSegmentCount(slot);
            for (int segment = 0; segment < segments; segment++)
            {
                _datagramsReceived++;
                datagrams++;
                try
                {
                    _endpoint.HandleDatagram(now, remote, _receiveBatch.GetSegment(slot, segment));
                }
#pragma warning disable CA1031 // One bad datagram must not end the loop for every connection on the socket.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    _datagramErrors++;
                    LastDatagramError = e;
                }
            }
        }

        if (datagrams > _largestReceiveBatch) _largestReceiveBatch = datagrams;
        return received;
    }

    /// <summary>Maps a received sockaddr to a cached endpoint instance; allocates only for a peer not in the cache.</summary>
    private IPEndPoint ResolveRemote(ReadOnlySpan<byte> sockaddr)
    {
        if (Matches(_lastCacheHit, sockaddr)) return _cachedEndPoints[_lastCacheHit]!;
        for (int i = 0; i < RemoteCacheSize; i++)
        {
            if (Matches(i, sockaddr))
            {
                _lastCacheHit = i;
                return _cachedEndPoints[i]!;
            }
        }

        IPEndPoint created = SocketAddressCodec.ToIPEndPoint(sockaddr);
        _remoteEndPointsCreated++;
        int victim = _nextCacheVictim;
        _nextCacheVictim = (victim + 1) % RemoteCacheSize;
        sockaddr.CopyTo(_cachedAddresses.AsSpan(victim * SocketAddressCodec.MaxLength, SocketAddressCodec.MaxLength));
        _cachedLengths[victim] = sockaddr.Length;
        _cachedEndPoints[victim] = created;
        _lastCacheHit = victim;
        return created;
    }

    private bool Matches(int entry, ReadOnlySpan<byte> sockaddr)
    {
        int length = _cachedLengths[entry];
        return length == sockaddr.Length
            && SocketAddressCodec.AddressEquals(_cachedAddresses.AsSpan(entry * SocketAddressCodec.MaxLength, length), sockaddr);
    }

    private TransmitState Transmit(TimeSpan now)
    {
        if (!SendPending()) return TransmitState.Blocked;

        int capacity = _sendBatch.Capacity;
        for (int round = 0; round < MaxSendBatchesPerTurn; round++)
        {
            int count = 0;
            while (count < capacity && _endpoint.TryPollTransmit(now, _sendBatch.GetBuffer(count), out int length, out EndPoint? remote))
            {
                if (remote is not IPEndPoint destination || length <= 0)
                {
                    _sendErrors++;
                    continue;
                }

                SetDestination(count, destination);
                _sendBatch.SetLength(count, length);
                count++;
            }

            if (count == 0) return TransmitState.Idle;
            _pendingStart = 0;
            _pendingCount = count;
            if (!SendPending()) return TransmitState.Blocked;
            if (count < capacity) return TransmitState.Idle;
        }

        return TransmitState.MoreReady;
    }

    /// <summary>Sends the unsent slots of the send batch; false when the kernel's buffer is full.</summary>
    private bool SendPending()
    {
        while (_pendingCount > 0)
        {
            int sent;
            try
            {
                sent = _socket.SendBatch(_sendBatch, _pendingStart, _pendingCount);
                _datagramsSent += sent;
                if (sent > _largestSendBatch) _largestSendBatch = sent;
            }
            catch (SocketException)
            {
                // sendmmsg(2) reports an error for the first unsent message: drop that datagram (QUIC recovers
                // like from loss) and go on with the rest.
                _sendErrors++;
                sent = 1;
            }

            if (sent == 0) return false;
            _pendingStart += sent;
            _pendingCount -= sent;
        }

        return true;
    }

    private void SetDestination(int slot, IPEndPoint destination)
    {
        // Connections hand back the EndPoint instance they were given (our cached one), so this is a reference hit.
        if (!ReferenceEquals(destination, _destination))
        {
            _destinationLength = SocketAddressCodec.Write(destination, _destinationAddress);
            _destination = destination;
        }

        _sendBatch.SetRemoteAddress(slot, _destinationAddress.AsSpan(0, _destinationLength));
    }

    private enum TransmitState
    {
        /// <summary>The endpoint has nothing more to send.</summary>
        Idle,

        /// <summary>The per-turn send budget ran out with more ready.</summary>
        MoreReady,

        /// <summary>The socket's send buffer is full; unsent slots wait in the batch.</summary>
        Blocked,
    }
}
