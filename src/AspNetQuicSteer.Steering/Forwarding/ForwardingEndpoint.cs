using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using AspNetQuicSteer.Sockets.Interop;

namespace AspNetQuicSteer.Steering.Forwarding;

/// <summary>What became of one forwarded datagram.</summary>
internal enum ForwardResult
{
    Sent,

    /// <summary>The owner's queue is full (EAGAIN): try again later, or drop.</summary>
    QueueFull,

    /// <summary>The owner's socket is gone: dropped.</summary>
    OwnerMissing,

    /// <summary>Any other failure: dropped.</summary>
    Failed,
}

/// <summary>Receives one forwarded datagram; <paramref name="payload"/> is only valid during the call.</summary>
internal delegate void ForwardedDatagramHandler(in ForwardedDatagramHeader header, ReadOnlySpan<byte> payload);

/// <summary>
/// One generation's end of the forwarding dataplane: an AF_UNIX SOCK_DGRAM socket bound at
/// <see cref="GetPath"/>(directory, shared endpoint, generation). A generation that receives a QUIC datagram on the
/// shared UDP port for a connection it does not own hands it, with the original addresses, to the owner's socket
/// (<see cref="TrySend(GenerationId, ReadOnlySpan{byte}, in ForwardedDatagramHeader)"/>); the owner takes it off its
/// own socket (<see cref="TryReceive"/>) and answers the client from the shared port
/// (<see cref="ReplyFromSharedPort"/>).
/// <para>Why Unix datagrams: they keep message boundaries and, on Linux, are reliable and ordered (unix(7)) — a
/// forwarded datagram is either queued at the owner or refused at once with an error the sender can count; nothing is
/// lost silently in between. The sender never blocks: sends use MSG_DONTWAIT (sendmsg(2)), so a full owner queue
/// (EAGAIN) drops the datagram, which QUIC's loss recovery absorbs (RFC 9002), instead of stalling the receive loop
/// that serves the sender's own connections.</para>
/// <para>Access control, two layers (see README.md): the socket file is made 0600 inside a directory created 0700,
/// because on Linux "sending a datagram to a datagram socket likewise requires write permission on that socket"
/// (unix(7)) — other users cannot even queue a datagram; and, unless disabled, SO_PASSCRED makes the kernel attach
/// the sender's credentials to every datagram (SCM_CREDENTIALS, unix(7)), and datagrams whose sender's uid is not
/// ours are dropped. The check costs one 32-byte control message per recvmsg, which is noise next to the system call
/// itself; it covers the window between bind(2) and chmod(2), a caller-supplied directory with looser permissions,
/// and a file mode changed behind our back.</para>
/// <para>Steady state allocates nothing: the owner's sockaddr_un is built once per owner and cached (pinned), the
/// header is encoded on the stack and sent together with the caller's payload as two iovecs of one sendmsg — the
/// payload is not copied. <see cref="TrySend(GenerationId, ReadOnlySpan{byte}, in ForwardedDatagramHeader)"/> may be
/// called from several threads at once; <see cref="TryReceive"/> belongs to one receiving thread.</para>
/// Linux only (64-bit), like the native path of <c>BatchedUdpSocket</c> whose interop it shares.
/// </summary>
internal sealed class ForwardingEndpoint : IDisposable
{
    /// <summary>File name suffix of forwarding sockets.</summary>
    internal const string FileSuffix = ".fwd";

    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode SocketMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly Socket _socket;
    private readonly string _directory;
    private readonly IPEndPoint _sharedEndPoint;
    private readonly byte[]?[] _owners = new byte[]?[256];
    private readonly uint _userId;
    private long _forwarded;
    private long _droppedQueueFull;
    private long _droppedOwnerMissing;
    private long _droppedFailed;
    private long _received;
    private long _rejectedMalformed;
    private long _rejectedSender;
    private int _disposed;

    /// <summary>
    /// Binds generation <paramref name="generation"/>'s socket in <paramref name="directory"/> (created 0700 if
    /// missing; an existing directory keeps its mode). A socket file left behind by a crashed process of the same
    /// generation (connect(2) answers ECONNREFUSED) is replaced; a live one makes this throw
    /// <see cref="InvalidOperationException"/>.
    /// </summary>
    /// <param name="directory">Directory shared by all generations of the app (e.g. under $XDG_RUNTIME_DIR or /run).</param>
    /// <param name="sharedEndPoint">The shared UDP endpoint as configured (the same string for all generations).</param>
    /// <param name="generation">This process's generation.</param>
    /// <param name="verifySender">Accept only datagrams whose kernel-attested sender uid is ours (SO_PASSCRED).</param>
    /// <param name="sendBufferSize">SO_SNDBUF for this socket (bytes in flight to owners); 0 keeps the default.</param>
    internal ForwardingEndpoint(string directory, IPEndPoint sharedEndPoint, GenerationId generation, bool verifySender = true, int sendBufferSize = 0)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(sharedEndPoint);
        if (!OperatingSystem.IsLinux() || !Environment.Is64BitProcess)
        {
            throw new PlatformNotSupportedException("Forwarding between generations uses Linux AF_UNIX datagram sockets.");
        }

        _directory = System.IO.Path.GetFullPath(directory);
        _sharedEndPoint = new IPEndPoint(sharedEndPoint.Address, sharedEndPoint.Port);
        Generation = generation;
        VerifiesSender = verifySender;
        _userId = UnixSocketInterop.GetUid();
        Path = GetPath(_directory, _sharedEndPoint, generation);
        byte[] ownAddress = UnixSocketInterop.CreatePathAddress(Path); // validates the length before anything is created
        _owners[generation.Value] = ownAddress;

        if (!Directory.Exists(_directory))
        {
            // mkdir(2) applies the umask, which can only remove bits: the result is at most 0700.
            Directory.CreateDirectory(_directory, DirectoryMode);
        }

        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        try
        {
            if (verifySender)
            {
                // Before bind: no datagram can reach the socket before the kernel starts attaching credentials.
                _socket.SetRawSocketOption(UnixSocketInterop.SOL_SOCKET, UnixSocketInterop.SO_PASSCRED, BitConverter.GetBytes(1));
            }

            if (sendBufferSize > 0)
            {
                _socket.SendBufferSize = sendBufferSize;
            }

            Bind(_socket, Path);
            File.SetUnixFileMode(Path, SocketMode);
        }
        catch
        {
            _socket.Dispose();
            throw;
        }
    }

    /// <summary>This endpoint's generation.</summary>
    internal GenerationId Generation { get; }

    /// <summary>The socket file this endpoint is bound to.</summary>
    internal string Path { get; }

    /// <summary>True when datagrams from other uids are rejected (SO_PASSCRED).</summary>
    internal bool VerifiesSender { get; }

    /// <summary>The bound socket, for callers that wait on several descriptors at once (poll it for reading).</summary>
    internal Socket Socket => _socket;

    /// <summary>Datagrams handed to an owner's socket.</summary>
    internal long Forwarded => Interlocked.Read(ref _forwarded);

    /// <summary>Datagrams dropped because the owner's queue was full (EAGAIN; see net.unix.max_dgram_qlen and SO_SNDBUF).</summary>
    internal long DroppedQueueFull => Interlocked.Read(ref _droppedQueueFull);

    /// <summary>Datagrams dropped because the owner has no socket: ENOENT (no file) or ECONNREFUSED (file, nobody bound).</summary>
    internal long DroppedOwnerMissing => Interlocked.Read(ref _droppedOwnerMissing);

    /// <summary>Datagrams dropped for any other reason: invalid header, oversize payload, EACCES, EMSGSIZE, ...</summary>
    internal long DroppedFailed => Interlocked.Read(ref _droppedFailed);

    /// <summary>All datagrams this endpoint failed to forward.</summary>
    internal long Dropped => DroppedQueueFull + DroppedOwnerMissing + DroppedFailed;

    /// <summary>The errno of the last <see cref="DroppedFailed"/> send (diagnostics), 0 if none.</summary>
    internal int LastSendError { get; private set; }

    /// <summary>Forwarded datagrams accepted by <see cref="TryReceive"/>.</summary>
    internal long Received => Interlocked.Read(ref _received);

    /// <summary>Received messages discarded as malformed or truncated (larger than the caller's buffer).</summary>
    internal long RejectedMalformed => Interlocked.Read(ref _rejectedMalformed);

    /// <summary>Received messages discarded because the sender's uid was not ours or unexpected ancillary data came along.</summary>
    internal long RejectedSender => Interlocked.Read(ref _rejectedSender);

    /// <summary>
    /// The socket path of <paramref name="generation"/> for <paramref name="sharedEndPoint"/>:
    /// <c>&lt;directory&gt;/&lt;address&gt;_&lt;port&gt;.gen&lt;id&gt;.fwd</c>, IPv6 addresses in brackets, e.g.
    /// <c>/run/app/0.0.0.0_443.gen3.fwd</c> or <c>/run/app/[::]_443.gen3.fwd</c>. Every generation derives the
    /// owner's path from the same inputs, so no registry is needed.
    /// </summary>
    internal static string GetPath(string directory, IPEndPoint sharedEndPoint, GenerationId generation)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(sharedEndPoint);
        string address = sharedEndPoint.AddressFamily == AddressFamily.InterNetworkV6
            ? $"[{sharedEndPoint.Address}]"
            : sharedEndPoint.Address.ToString();
        return System.IO.Path.Combine(
            directory,
            string.Create(CultureInfo.InvariantCulture, $"{address}_{sharedEndPoint.Port}.gen{generation.Value}{FileSuffix}"));
    }

    /// <summary>
    /// Forwards <paramref name="datagram"/>, received from <paramref name="remote"/> at <paramref name="local"/> (the
    /// address the client sent to; null or a wildcard when unknown), to <paramref name="owner"/>. Never blocks and
    /// never throws for a send failure: returns false and counts it (<see cref="DroppedQueueFull"/>,
    /// <see cref="DroppedOwnerMissing"/>, <see cref="DroppedFailed"/>).
    /// </summary>
    internal bool TrySend(GenerationId owner, ReadOnlySpan<byte> datagram, IPEndPoint remote, IPEndPoint? local, byte ecn = 0) =>
        TrySend(owner, datagram, ForwardedDatagramHeader.Create(remote, local, 0, ecn));

    /// <summary>Forwards <paramref name="datagram"/> with the addressing in <paramref name="header"/>; see the other overload.</summary>
    internal bool TrySend(GenerationId owner, ReadOnlySpan<byte> datagram, in ForwardedDatagramHeader header)
    {
        ForwardResult result = Send(owner, datagram, header);
        if (result == ForwardResult.QueueFull) CountQueueFullDrop();
        return result == ForwardResult.Sent;
    }

    /// <summary>A datagram the caller held back after <see cref="ForwardResult.QueueFull"/> was dropped in the end.</summary>
    internal void CountQueueFullDrop() => Interlocked.Increment(ref _droppedQueueFull);

    /// <summary>
    /// Forwards like <see cref="TrySend(GenerationId, ReadOnlySpan{byte}, in ForwardedDatagramHeader)"/>, but a full
    /// owner queue is reported, not counted as a drop: the caller may keep the datagram and try again
    /// (<see cref="ForwardingDivert"/> does, on its next loop turn).
    /// </summary>
    internal unsafe ForwardResult Send(GenerationId owner, ReadOnlySpan<byte> datagram, in ForwardedDatagramHeader header)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        byte* headerBytes = stackalloc byte[ForwardedDatagram.HeaderLength];
        if (!ForwardedDatagram.TryWriteHeader(new Span<byte>(headerBytes, ForwardedDatagram.HeaderLength), header, datagram.Length))
        {
            LastSendError = LinuxSocketInterop.EINVAL;
            Interlocked.Increment(ref _droppedFailed);
            return ForwardResult.Failed;
        }

        byte[] name = GetOwnerAddress(owner);
        SafeHandle handle = _socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            int fd = (int)handle.DangerousGetHandle();
            fixed (byte* payload = datagram)
            fixed (byte* namePointer = name)
            {
                // sendmsg(2) gathers the iovecs into one datagram: header from the stack, payload from the caller.
                IoVec* iov = stackalloc IoVec[2];
                iov[0].Base = headerBytes;
                iov[0].Length = ForwardedDatagram.HeaderLength;
                iov[1].Base = payload;
                iov[1].Length = (nuint)datagram.Length;
                MsgHdr message = default;
                message.Name = namePointer;
                message.NameLength = (uint)name.Length;
                message.Iov = iov;
                message.IovLength = 2;
                while (true)
                {
                    if (LinuxSocketInterop.SendMsg(fd, &message, LinuxSocketInterop.MSG_DONTWAIT | UnixSocketInterop.MSG_NOSIGNAL) >= 0)
                    {
                        Interlocked.Increment(ref _forwarded);
                        return ForwardResult.Sent;
                    }

                    int errno = Marshal.GetLastPInvokeError();
                    switch (errno)
                    {
                        case LinuxSocketInterop.EINTR:
                            continue; // signal(7): nothing was sent; retry
                        case LinuxSocketInterop.EAGAIN:
                            // The owner's receive queue holds more than net.unix.max_dgram_qlen datagrams, or our
                            // send buffer is full of datagrams it has not read yet.
                            return ForwardResult.QueueFull;
                        case UnixSocketInterop.ENOENT:
                        case LinuxSocketInterop.ECONNREFUSED:
                            // unix(7): ENOENT — no such path; ECONNREFUSED — the path is not (any more) a bound
                            // socket. Either way the owner is gone: its connections are lost, not ours to close.
                            Interlocked.Increment(ref _droppedOwnerMissing);
                            return ForwardResult.OwnerMissing;
                        default:
                            LastSendError = errno;
                            Interlocked.Increment(ref _droppedFailed);
                            return ForwardResult.Failed;
                    }
                }
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Takes the next forwarded datagram without blocking: its payload goes to the start of <paramref name="buffer"/>
    /// (received there directly, no copy) and its addressing to <paramref name="header"/>. Malformed, truncated
    /// (payload longer than <paramref name="buffer"/>) and foreign datagrams are counted and skipped. Returns false
    /// when the queue is empty. One receiving thread at a time.
    /// </summary>
    internal unsafe bool TryReceive(Span<byte> buffer, out ForwardedDatagramHeader header, out int payloadLength)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        header = default;
        payloadLength = 0;
        byte* headerBytes = stackalloc byte[ForwardedDatagram.HeaderLength];
        // CMSG_SPACE(sizeof(struct ucred)) = 16 + 16. Exactly room for the credentials: a sender that attaches
        // SCM_RIGHTS finds no space, so the kernel installs no descriptor in this process and sets MSG_CTRUNC
        // (unix(7), cmsg(3)). ulong elements keep the buffer aligned for cmsghdr.
        const int ControlLength = 32;
        ulong* control = stackalloc ulong[ControlLength / sizeof(ulong)];
        SafeHandle handle = _socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            int fd = (int)handle.DangerousGetHandle();
            fixed (byte* payload = buffer)
            {
                IoVec* iov = stackalloc IoVec[2];
                while (true)
                {
                    iov[0].Base = headerBytes;
                    iov[0].Length = ForwardedDatagram.HeaderLength;
                    iov[1].Base = payload;
                    iov[1].Length = (nuint)buffer.Length;
                    MsgHdr message = default;
                    message.Iov = iov;
                    message.IovLength = 2;
                    message.Control = VerifiesSender ? (byte*)control : null;
                    message.ControlLength = VerifiesSender ? (nuint)ControlLength : 0;
                    nint received = LinuxSocketInterop.RecvMsg(fd, &message, LinuxSocketInterop.MSG_DONTWAIT | UnixSocketInterop.MSG_CMSG_CLOEXEC);
                    if (received < 0)
                    {
                        int errno = Marshal.GetLastPInvokeError();
                        if (errno == LinuxSocketInterop.EINTR)
                        {
                            continue;
                        }

                        if (errno == LinuxSocketInterop.EAGAIN)
                        {
                            return false;
                        }

                        throw new SocketException((int)NativeErrors.ToSocketError(errno));
                    }

                    if (VerifiesSender && !IsFromOurUser(ref message))
                    {
                        Interlocked.Increment(ref _rejectedSender);
                        continue;
                    }

                    // recvmsg(2): MSG_TRUNC — the datagram was longer than the buffers; the rest is discarded.
                    int length = (int)received - ForwardedDatagram.HeaderLength;
                    if ((message.Flags & LinuxSocketInterop.MSG_TRUNC) != 0 || length < 0
                        || !ForwardedDatagram.TryParseHeader(new ReadOnlySpan<byte>(headerBytes, ForwardedDatagram.HeaderLength), length, out header))
                    {
                        header = default;
                        Interlocked.Increment(ref _rejectedMalformed);
                        continue;
                    }

                    payloadLength = length;
                    Interlocked.Increment(ref _received);
                    return true;
                }
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>Blocks in poll(2) until a datagram is queued or the timeout (µs, −1 = forever) passes.</summary>
    internal bool WaitForReceive(int timeoutMicroseconds) => _socket.Poll(timeoutMicroseconds, SelectMode.SelectRead);

    /// <summary>
    /// Completes when a datagram is queued, without taking it: a zero-byte MSG_PEEK receive (recv(2)) signals
    /// readiness and leaves the datagram in the queue (a plain zero-byte receive would consume and truncate it).
    /// Allocation-free in steady state (pooled state machine, cached socket awaitables).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    internal async ValueTask WaitForReceiveAsync(CancellationToken cancellationToken = default) =>
        await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.Peek, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// The owner's receive loop: drains the queue into <paramref name="handler"/>, then waits asynchronously for
    /// more, until <paramref name="cancellationToken"/> is cancelled or the endpoint is disposed (both return normally).
    /// <paramref name="buffer"/> should hold <see cref="ForwardedDatagram.MaxPayloadLength"/> bytes.
    /// </summary>
    internal async Task RunReceiveLoopAsync(byte[] buffer, ForwardedDatagramHandler handler, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        ArgumentNullException.ThrowIfNull(handler);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                Drain(buffer, handler);
                await WaitForReceiveAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e) when (Volatile.Read(ref _disposed) != 0 && e is ObjectDisposedException or SocketException)
        {
            // Disposed under the loop: the pending peek fails (OperationAborted) or the next receive sees the flag.
        }
    }

    /// <summary>Hands every queued datagram to <paramref name="handler"/>; returns how many.</summary>
    internal int Drain(Span<byte> buffer, ForwardedDatagramHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        int count = 0;
        while (TryReceive(buffer, out ForwardedDatagramHeader header, out int length))
        {
            handler(header, buffer[..length]);
            count++;
        }

        return count;
    }

    /// <summary>Closes the socket and removes its file. Senders then see the owner as missing (ENOENT).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _socket.Dispose();
        try
        {
            File.Delete(Path);
        }
        catch (IOException)
        {
            // Best effort: a leftover file is detected as stale (ECONNREFUSED) and replaced by the next bind.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private byte[] GetOwnerAddress(GenerationId owner)
    {
        ref byte[]? slot = ref _owners[owner.Value];
        byte[]? address = Volatile.Read(ref slot);
        if (address is null)
        {
            // Once per owner for the lifetime of this endpoint: the path depends only on (directory, endpoint, owner).
            address = UnixSocketInterop.CreatePathAddress(GetPath(_directory, _sharedEndPoint, owner));
            address = Interlocked.CompareExchange(ref slot, address, null) ?? address;
        }

        return address;
    }

    private unsafe bool IsFromOurUser(ref MsgHdr message)
    {
        // With SO_PASSCRED set on the receiver the kernel attaches the sender's pid, real uid and gid to every
        // datagram (unix(7) SO_PASSCRED); an unprivileged sender can claim only its own ids (SCM_CREDENTIALS).
        // MSG_CTRUNC means something else (descriptors) came along: not one of our senders.
        if ((message.Flags & LinuxSocketInterop.MSG_CTRUNC) != 0 || message.Control is null
            || message.ControlLength < (nuint)LinuxSocketInterop.CmsgLen(sizeof(UnixCredentials)))
        {
            return false;
        }

        CMsgHdr* header = (CMsgHdr*)message.Control;
        return header->Level == UnixSocketInterop.SOL_SOCKET && header->Type == UnixSocketInterop.SCM_CREDENTIALS
            && header->Length >= (nuint)LinuxSocketInterop.CmsgLen(sizeof(UnixCredentials))
            && ((UnixCredentials*)(header + 1))->UserId == _userId;
    }

    private static void Bind(Socket socket, string path)
    {
        var endPoint = new UnixDomainSocketEndPoint(path);
        try
        {
            socket.Bind(endPoint);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            if (IsLive(endPoint))
            {
                throw new InvalidOperationException($"Another process is bound to the forwarding socket '{path}' (generation ids must be unique among live processes).", e);
            }

            // unix(7): the file of a pathname socket outlives the socket; a crashed predecessor left it behind.
            File.Delete(path);
            socket.Bind(endPoint);
        }
    }

    private static bool IsLive(UnixDomainSocketEndPoint endPoint)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        try
        {
            probe.Connect(endPoint); // connect(2) on a datagram socket only sets the peer; nothing is sent
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return false; // unix(7) ECONNREFUSED: not a bound socket (or not a socket at all)
        }
    }
}
