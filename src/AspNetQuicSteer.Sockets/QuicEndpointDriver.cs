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
/// runs to one destination); then wait (ppoll(2) on the socket and a wake-up eventfd, see <see cref="LoopWakeup"/>)
/// until a datagram arrives, <see cref="Wake"/> is called, the endpoint's next timer, or
/// <see cref="QuicEndpointDriverOptions.MaxWait"/>, whichever is first.</para>
/// <para>The endpoint and its connections are not thread-safe: touch them only from the loop thread, i.e. inside
/// <see cref="Post"/>/<see cref="InvokeAsync{T}"/> work or the turn hook. Posting wakes a waiting loop at once; a
/// post while the loop is busy costs no system call.</para>
/// <para>On a wildcard bind (0.0.0.0 or dual-mode ::) each peer is answered from the local address it sent to
/// (IP_PKTINFO), so clients that dialled a secondary address, or whose socket is connected, accept the replies.</para>
/// <para>Steady state allocates nothing per datagram: batches are preallocated, peers' sockaddrs map to cached
/// <see cref="IPEndPoint"/> instances (<see cref="RemoteEndPointTable"/>), and the last destination's sockaddr is
/// reused while the endpoint keeps returning the same <see cref="EndPoint"/> instance.</para>
/// The driver owns the socket and the endpoint and disposes both.
/// </summary>
internal sealed class QuicEndpointDriver : IDisposable
{
    /// <summary>Peers remembered by the sockaddr → endpoint table (least recently seen replaced within a probe window).</summary>
    internal const int RemoteCacheSize = 4096;

    /// <summary>Send batches per turn at most, so a bulk sender cannot starve receiving (ACKs) and timers.</summary>
    private const int MaxSendBatchesPerTurn = 4;

    private static readonly TimeSpan StopJoinTimeout = TimeSpan.FromSeconds(5);

    private readonly BatchedUdpSocket _socket;
    private readonly QuicEndpoint _endpoint;
    private readonly TimeProvider _time;
    private readonly long _startTimestamp;
    private readonly TimeSpan _maxWait;
    private readonly DatagramDivert? _divert;
    private readonly DatagramBatch _receiveBatch;
    private readonly DatagramBatch _sendBatch;
    private readonly ConcurrentQueue<Action<bool>> _work = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Thread _thread;

    private readonly RemoteEndPointTable _remotes = new(RemoteCacheSize);
    private readonly LoopWakeup _wakeup;

    /// <summary>Wildcard bind with IP_PKTINFO on the native path: replies carry the peer's dialled address as source.</summary>
    private readonly bool _replyFromDialledAddress;

    private readonly byte[] _destinationAddress = new byte[SocketAddressCodec.MaxLength];
    private int _destinationLength;
    private IPEndPoint? _destination;

    /// <summary>Table entry of <see cref="_destination"/>'s peer, valid while it still holds <see cref="_destinationEntryOwner"/>.</summary>
    private int _destinationEntry = RemoteEndPointTable.None;
    private IPEndPoint? _destinationEntryOwner;

    /// <summary>1 while the loop is (about to be) blocked in <see cref="LoopWakeup.Wait"/>: only then does <see cref="Wake"/> signal.</summary>
    private int _sleeping;

    /// <summary>1 when <see cref="Wake"/> was called since the current turn started: the loop must not sleep before another turn.</summary>
    private int _wakeRequested;

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
    private long _bytesReceived;
    private long _bytesSent;
    private long _truncatedDatagrams;
    private long _datagramsDiverted;
    private long _datagramsInjected;
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
        _divert = options.Divert;
        _receiveBatch = new DatagramBatch(options.ReceiveBatchCapacity, socket.GroEnabled ? DatagramBatch.GroSlotSize : options.ReceiveSlotSize);
        _sendBatch = new DatagramBatch(options.SendBatchCapacity, options.SendSlotSize);
        _replyFromDialledAddress = socket.IsNative && socket.PacketInformationEnabled
            && socket.Socket.LocalEndPoint is IPEndPoint bound
            && (bound.Address.Equals(IPAddress.Any) || bound.Address.Equals(IPAddress.IPv6Any));
        // The portable socket path cannot be polled by ppoll together with an eventfd on every platform; keep the
        // two portable paths together (which also lets tests exercise the fallback on Linux).
        _wakeup = LoopWakeup.Create(preferNative: socket.IsNative);
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

    /// <summary>UDP payload bytes handed to the endpoint (the datagrams counted by <see cref="DatagramsReceived"/>).</summary>
    internal long BytesReceived => Volatile.Read(ref _bytesReceived);

    /// <summary>UDP payload bytes of the datagrams counted by <see cref="DatagramsSent"/>.</summary>
    internal long BytesSent => Volatile.Read(ref _bytesSent);

    /// <summary>True when waits use ppoll(2) with an eventfd; false for the portable loopback-socket wake-up.</summary>
    internal bool UsesEventFd => _wakeup.IsNative;

    /// <summary>True when replies on this wildcard-bound socket are sent from the address each peer dialled.</summary>
    internal bool RepliesFromDialledAddress => _replyFromDialledAddress;

    /// <summary>Datagrams dropped because they did not fit a receive slot (MSG_TRUNC).</summary>
    internal long TruncatedDatagrams => Volatile.Read(ref _truncatedDatagrams);

    /// <summary>Datagrams whose handling threw inside the endpoint (the loop drops them and continues).</summary>
    internal long DatagramErrors => Volatile.Read(ref _datagramErrors);

    /// <summary>Datagrams dropped because the kernel refused them (e.g. EHOSTUNREACH) or had no IP destination.</summary>
    internal long SendErrors => Volatile.Read(ref _sendErrors);

    /// <summary>Receive calls that failed with a socket error.</summary>
    internal long ReceiveErrors => Volatile.Read(ref _receiveErrors);

    /// <summary>Remote endpoints allocated by the sockaddr table (one per new peer address, not per datagram).</summary>
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

    /// <summary>Datagrams the <see cref="QuicEndpointDriverOptions.Divert"/> hook took.</summary>
    internal long DatagramsDiverted => Interlocked.Read(ref _datagramsDiverted);

    /// <summary>Datagrams handed in with <see cref="Inject"/> and processed.</summary>
    internal long DatagramsInjected => Interlocked.Read(ref _datagramsInjected);

    /// <summary>
    /// Feeds a datagram that arrived another way (forwarded by the process that received it) to the endpoint as if
    /// this socket had received it from <paramref name="remote"/>; replies leave from this socket. Thread-safe; the
    /// bytes are copied (forwarding is the rare path, so this may allocate).
    /// </summary>
    internal void Inject(IPEndPoint remote, ReadOnlySpan<byte> datagram)
    {
        ArgumentNullException.ThrowIfNull(remote);
        byte[] copy = datagram.ToArray();
        _work.Enqueue(abandoned =>
        {
            if (abandoned) return;
            _datagramsInjected++;
            try
            {
                _endpoint.HandleDatagram(Now, remote, copy);
            }
#pragma warning disable CA1031 // As for received datagrams: one bad datagram must not end the loop.
            catch (Exception e)
#pragma warning restore CA1031
            {
                _datagramErrors++;
                LastDatagramError = e;
            }
        });
        Wake();
    }

    /// <summary>Queues <paramref name="work"/> to run on the loop thread at the start of a turn (in order), waking the loop.</summary>
    internal void Post(Action work)
    {
        ArgumentNullException.ThrowIfNull(work);
        _work.Enqueue(abandoned =>
        {
            if (!abandoned) work();
        });
        Wake();
    }

    /// <summary>
    /// Makes the loop run another turn (turn hook included) as soon as the current one ends, or at once if it is
    /// waiting: for code that marked application state dirty without posting a closure. Thread-safe and cheap: a
    /// system call (eventfd write) happens only when the loop is actually waiting.
    /// </summary>
    internal void Wake()
    {
        // Dekker-style handshake with Sleep(): we write _wakeRequested then read _sleeping; the loop writes _sleeping
        // then reads _wakeRequested (and the queue). Both writes are interlocked (full fences), so at least one side
        // sees the other's write: either the loop skips the wait, or we signal it. A wake-up cannot be lost.
        Interlocked.Exchange(ref _wakeRequested, 1);
        if (Volatile.Read(ref _sleeping) != 0 && Interlocked.CompareExchange(ref _sleeping, 0, 1) == 1)
        {
            // Only the thread that flips the flag signals: one eventfd write per wait, however many posters.
            _wakeup.Signal();
        }
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
        Wake();

        if (_stopRequested || Completion.IsCompleted) AbandonWork();
        return result.Task;
    }

    /// <summary>Asks the loop to end after the current turn; the task completes when the thread has exited.</summary>
    internal Task StopAsync()
    {
        _stopRequested = true;
        Wake();
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
        Wake();
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
        _wakeup.Dispose();
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
        // Consume wake requests before looking at work and application state: a Wake() after this point leaves the
        // flag set, and Sleep() then runs another turn instead of waiting.
        if (Volatile.Read(ref _wakeRequested) != 0) Interlocked.Exchange(ref _wakeRequested, 0);
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

        int microseconds = (int)Math.Min(Math.Ceiling(wait.TotalMicroseconds), int.MaxValue);

        // With a full send buffer, wait for it to drain (POLLOUT) rather than for input: receives are read next turn
        // either way.
        Sleep(microseconds, forSend: transmit == TransmitState.Blocked);
    }

    private void Sleep(int microseconds, bool forSend)
    {
        Interlocked.Exchange(ref _sleeping, 1);
        if (Volatile.Read(ref _wakeRequested) != 0 || !_work.IsEmpty || _stopRequested)
        {
            // Woken (or posted to) between the turn's last look and now. A Wake() racing with this reset may still
            // signal; that leaves one stale eventfd count, i.e. one spurious, harmless early return later.
            Volatile.Write(ref _sleeping, 0);
            return;
        }

        bool socketReady = _wakeup.Wait(_socket.Socket, forSend, microseconds);
        Volatile.Write(ref _sleeping, 0);
        if (!forSend) _mayBeReadable = socketReady;
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

            IPEndPoint? remote = ResolveRemote(slot);
            if (remote is null) continue;
            int segments = _receiveBatch.GetSegmentCount(slot);
            for (int segment = 0; segment < segments; segment++)
            {
                Span<byte> payload = _receiveBatch.GetSegment(slot, segment);
                _datagramsReceived++;
                _bytesReceived += payload.Length;
                datagrams++;
                try
                {
                    if (_divert is not null && _divert(payload, remote, _receiveBatch.GetLocalAddress(slot)))
                    {
                        _datagramsDiverted++;
                        continue;
                    }

                    _endpoint.HandleDatagram(now, remote, payload);
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

    /// <summary>
    /// Maps a received slot's source sockaddr to its peer's cached endpoint instance (allocating only for a peer not
    /// in the table) and, on a wildcard bind, remembers the local address the peer sent to. Null (the slot is
    /// dropped as a datagram error) for a source that is not an IP sockaddr.
    /// </summary>
    private IPEndPoint? ResolveRemote(int slot)
    {
        IPEndPoint remote;
        int entry;
        long created = _remotes.Created;
        try
        {
            remote = _remotes.Resolve(_receiveBatch.GetRemoteAddress(slot), out entry);
        }
        catch (ArgumentException e)
        {
            _datagramErrors++;
            LastDatagramError = e;
            return null;
        }

        if (_remotes.Created != created) _remoteEndPointsCreated++;
        if (_replyFromDialledAddress)
        {
            // ip(7) IP_PKTINFO ipi_addr / ipv6(7) ipi6_addr: the header destination, i.e. the address the peer dialled.
            ReadOnlySpan<byte> local = _receiveBatch.GetLocalAddress(slot);
            if (!local.IsEmpty) _remotes.SetLocalAddress(entry, local, _receiveBatch.GetLocalInterfaceIndex(slot));
        }

        return remote;
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
                for (int slot = _pendingStart, end = _pendingStart + sent; slot < end; slot++)
                {
                    _bytesSent += _sendBatch.GetLength(slot);
                }

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
            _destinationEntry = RemoteEndPointTable.None;
            _destinationEntryOwner = null;
        }

        ReadOnlySpan<byte> sockaddr = _destinationAddress.AsSpan(0, _destinationLength);
        _sendBatch.SetRemoteAddress(slot, sockaddr);
        if (_replyFromDialledAddress) SetSource(slot, sockaddr);
    }

    /// <summary>
    /// Sends the slot from the local address its peer last sent to. Without it a wildcard socket's reply takes the
    /// route's preferred source (ip(7): "the local source address for the routing table lookup"), which a client
    /// that dialled another of our addresses drops: RFC 9000 §9 ties a path to both addresses, and a connected UDP
    /// socket only accepts datagrams from the address it connected to (udp(7)).
    /// </summary>
    private void SetSource(int slot, ReadOnlySpan<byte> sockaddr)
    {
        // The entry may since have been given to another peer (eviction): revalidate by instance, re-find by bytes.
        if (_destinationEntry == RemoteEndPointTable.None || !ReferenceEquals(_remotes.GetEndPoint(_destinationEntry), _destinationEntryOwner))
        {
            _destinationEntry = _remotes.Find(sockaddr);
            _destinationEntryOwner = _destinationEntry == RemoteEndPointTable.None ? null : _remotes.GetEndPoint(_destinationEntry);
        }

        if (_destinationEntry == RemoteEndPointTable.None)
        {
            // A peer we never heard from (or forgot): let routing choose.
            _sendBatch.SetLocalAddress(slot, ReadOnlySpan<byte>.Empty, 0);
            return;
        }

        ReadOnlySpan<byte> local = _remotes.GetLocalAddress(_destinationEntry, out int interfaceIndex);
        _sendBatch.SetLocalAddress(slot, local, interfaceIndex);
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
