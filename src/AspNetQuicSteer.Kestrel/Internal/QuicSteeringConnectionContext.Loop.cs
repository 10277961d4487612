using System.Net.Security;
using System.Security.Authentication;
using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Streams;
using AspNetQuicSteer.Quic.Tls;
using Microsoft.AspNetCore.Connections;

namespace AspNetQuicSteer.Kestrel.Internal;

/// <summary>The connection's work on its loop's thread: TLS hand-off, events, stream dispatch, close.</summary>
internal sealed partial class QuicSteeringConnectionContext
{
    private readonly Dictionary<ulong, QuicSteeringStreamContext> _streams = [];
    private readonly List<QuicSteeringStreamContext> _waitingForCredit = [];
    private TaskCompletionSource? _streamsAvailable;
    private (ulong Code, string Reason, TimeSpan Deadline)? _pendingClose;
    private bool _tlsRequested;
    private bool _published;
    private bool _closed;

    /// <summary>One loop turn for this connection; false once it is closed and can be forgotten.</summary>
    internal bool LoopOnTurn(TimeSpan now)
    {
        if (_closed) return false;
        if (_pendingClose is { } pending && (!Quic.HasUnacknowledgedStreamData || now >= pending.Deadline))
        {
            _pendingClose = null;
            Quic.Close(now, pending.Code, pending.Reason);
        }

        if (!_tlsRequested && Quic.Tls is TlsServerHandshake { IsAwaitingConfiguration: true, ClientHelloInfo: { } hello })
        {
            _tlsRequested = true;
            StartTlsSelection(hello);
        }

        if (!Quic.IsHandshakeComplete && now - StartedAt > Options.HandshakeTimeout && Quic.State == QuicConnectionState.Handshaking)
        {
            QuicSteeringLog.HandshakeTimedOut(Logger, ConnectionId, Options.HandshakeTimeout);
            Quic.AbortHandshake(now, "The handshake did not complete in time.");
        }

        while (Quic.TryPollEvent(out QuicConnectionEvent e))
        {
            switch (e.Kind)
            {
                case QuicConnectionEventKind.HandshakeCompleted:
                    LoopOnHandshakeCompleted();
                    break;
                case QuicConnectionEventKind.Closed:
                    LoopOnClosed();
                    return false;
            }
        }

        while (Quic.TryPollStreamEvent(out QuicStreamEvent e))
        {
            LoopOnStreamEvent(e);
        }

        // Streams whose last write was short resume as soon as the core has room, whichever way it was freed.
        for (int i = _waitingForCredit.Count - 1; i >= 0; i--)
        {
            QuicSteeringStreamContext stream = _waitingForCredit[i];
            if (!stream.IsWaitingForCredit)
            {
                _waitingForCredit.RemoveAt(i);
            }
            else if (stream.LoopHasCredit())
            {
                _waitingForCredit.RemoveAt(i);
                stream.LoopOnWritable();
            }
        }

        return true;
    }

    /// <summary>
    /// RFC 9001 §4.1 / KESTREL.md §2: after the ClientHello, ask Kestrel's <see cref="TlsConnectionCallbackOptions"/>
    /// for this connection's SslServerAuthenticationOptions (certificate, SNI selection, client certificates), off the
    /// loop thread since the callback may be asynchronous, then continue the handshake on the loop.
    /// </summary>
    private void StartTlsSelection(TlsClientHelloInfo hello)
    {
        TlsConnectionCallbackOptions tls = _loop.TlsOptions ?? throw new InvalidOperationException("A server connection needs Kestrel's TLS options.");
        ReadOnlyMemory<byte> transportParameters = Quic.EncodedLocalTransportParameters;
        _ = Task.Run(async () =>
        {
            TlsServerOptions options;
            try
            {
                var context = new TlsConnectionCallbackContext
                {
                    ClientHelloInfo = new SslClientHelloInfo(hello.ServerName ?? string.Empty, SslProtocols.Tls13),
                    State = tls.OnConnectionState,
                    Connection = this,
                };
                using var timeout = new CancellationTokenSource(Options.HandshakeTimeout);
                SslServerAuthenticationOptions ssl = await tls.OnConnection(context, timeout.Token).ConfigureAwait(false);
                options = KestrelTlsAdapter.Create(ssl, hello.ServerName, transportParameters, this);
            }
#pragma warning disable CA1031 // Any failure of the application's callback fails this handshake only.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                QuicSteeringLog.TlsSelectionFailed(Logger, ConnectionId, hello.ServerName, ex);
                Post(() => Quic.AbortHandshake(_loop.Now, "No TLS configuration for this connection."));
                return;
            }

            Post(() =>
            {
                if (!Quic.TryConfigureServerTls(_loop.Now, options) && Quic.CloseError is { } error)
                {
                    QuicSteeringLog.HandshakeFailed(Logger, ConnectionId, error.ToString());
                }
            });
        });
    }

    private void LoopOnHandshakeCompleted()
    {
        IQuicTlsSession tls = Quic.Tls;
        ClientCertificate = tls.PeerCertificate;
        QuicSteeringLog.HandshakeCompleted(Logger, ConnectionId, tls.ServerName, tls.CipherSuite?.ToString(), Quic.Rtt.SmoothedRtt.TotalMilliseconds);
        _loop.Metrics?.HandshakeCompleted(_loop.Now - StartedAt);
        _published = true;
        _loop.LoopPublish(this);
    }

    private void LoopOnStreamEvent(QuicStreamEvent e)
    {
        switch (e.Kind)
        {
            case QuicStreamEventKind.PeerOpened:
                while (Quic.TryAcceptStream(out ulong id))
                {
                    bool bidirectional = (id & 2) == 0; // RFC 9000 §2.1: bit 0x2 marks unidirectional streams
                    var stream = new QuicSteeringStreamContext(this, id, canRead: true, canWrite: bidirectional);
                    _streams[id] = stream;
                    _loop.Metrics?.StreamOpened(bidirectional, inbound: true);
                    _acceptedStreams.Writer.TryWrite(stream);
                    stream.LoopStart();
                }

                break;
            case QuicStreamEventKind.Readable:
                if (_streams.TryGetValue(e.StreamId, out QuicSteeringStreamContext? readable)) readable.LoopOnReadable();
                break;
            case QuicStreamEventKind.Writable:
                if (_streams.TryGetValue(e.StreamId, out QuicSteeringStreamContext? writable)) writable.LoopOnWritable();
                break;
            case QuicStreamEventKind.PeerReset:
                if (_streams.TryGetValue(e.StreamId, out QuicSteeringStreamContext? reset)) reset.LoopOnPeerReset(e.ErrorCode);
                break;
            case QuicStreamEventKind.PeerStopSending:
                if (_streams.TryGetValue(e.StreamId, out QuicSteeringStreamContext? stopped)) stopped.LoopOnPeerStopSending(e.ErrorCode);
                break;
            case QuicStreamEventKind.Released:
                if (_streams.TryGetValue(e.StreamId, out QuicSteeringStreamContext? released)) released.LoopOnReleased();
                break;
            case QuicStreamEventKind.StreamsAvailable:
                TaskCompletionSource? waiting = _streamsAvailable;
                _streamsAvailable = null;
                waiting?.TrySetResult();
                break;
        }
    }

    private (QuicSteeringStreamContext? Stream, Task? Wait) LoopTryOpenStream(bool bidirectional)
    {
        if (_closed || Quic.State is not QuicConnectionState.Connected)
        {
            throw new ConnectionAbortedException("The connection is closed.");
        }

        if (!Quic.TryOpenStream(bidirectional, out ulong id))
        {
            // RFC 9000 §4.6: the peer's MAX_STREAMS limit is reached; wait for it to raise it.
            _streamsAvailable ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return (null, _streamsAvailable.Task);
        }

        var stream = new QuicSteeringStreamContext(this, id, canRead: bidirectional, canWrite: true);
        _streams[id] = stream;
        _loop.Metrics?.StreamOpened(bidirectional, inbound: false);
        stream.LoopStart();
        return (stream, null);
    }

    internal void LoopForget(QuicSteeringStreamContext stream) => _streams.Remove(stream.QuicStreamId);

    internal void LoopWaitForCredit(QuicSteeringStreamContext stream)
    {
        if (!_waitingForCredit.Contains(stream)) _waitingForCredit.Add(stream);
    }

    /// <summary>
    /// Kestrel's Abort: CONNECTION_CLOSE with its code. Kestrel writes its last GOAWAY (RFC 9114 §5.2) and aborts right
    /// after, but a CONNECTION_CLOSE ends all sending (RFC 9000 §10.2), so the close waits until what the streams
    /// already hold is acknowledged, bounded by <see cref="MaxCloseDelay"/>.
    /// </summary>
    private void LoopClose(ulong code, string reason)
    {
        if (_closed || _pendingClose is not null) return;
        TimeSpan now = _loop.Now;
        if (Quic.State == QuicConnectionState.Connected && Quic.HasUnacknowledgedStreamData)
        {
            _pendingClose = (code, reason, now + MaxCloseDelay);
            return;
        }

        Quic.Close(now, code, reason);
    }

    internal static readonly TimeSpan MaxCloseDelay = TimeSpan.FromSeconds(1);

    /// <summary>HTTP/3's code for a request the server gave up on after it may have been processed (RFC 9114 §8.1).</summary>
    internal const ulong H3RequestCancelled = 0x10C;

    /// <summary>Set once Kestrel was asked to close this connection gracefully (GOAWAY); loop thread only.</summary>
    internal bool LoopGracefulCloseRequested { get; set; }

    /// <summary>
    /// The drain timeout expired (issue 7): every request whose response is still being written is cancelled with
    /// H3_REQUEST_CANCELLED on RESET_STREAM and STOP_SENDING. Not H3_REQUEST_REJECTED: the application may already have
    /// acted on it, and only a request that was not processed may be rejected (RFC 9114 §4.1.1). Kestrel sees each
    /// request aborted; having sent GOAWAY, it then closes the connection (RFC 9114 §5.2). Returns the number cancelled.
    /// </summary>
    internal int LoopCancelRequests(string reason)
    {
        if (_closed) return 0;
        int cancelled = 0;
        foreach (QuicSteeringStreamContext stream in _streams.Values.ToArray())
        {
            // Client-initiated bidirectional streams are the requests (RFC 9114 §4.1, RFC 9000 §2.1).
            if ((stream.QuicStreamId & 0x3) == 0 && stream.LoopCancel(H3RequestCancelled, reason)) cancelled++;
        }

        return cancelled;
    }

    /// <summary>A close Kestrel asked for waits for stream data to be acknowledged.</summary>
    internal bool LoopHasPendingClose => _pendingClose is not null && !_closed;

    /// <summary>Closes from the listener's side (dispose, or a handshake nobody will accept) at once.</summary>
    internal void LoopCloseForShutdown()
    {
        if (_closed) return;
        _pendingClose = null;
        Quic.Close(_loop.Now, (ulong)Options.DefaultCloseErrorCode, "The server is shutting down.");
    }

    /// <summary>
    /// Closes at once and fails everything still open without waiting for the closing period (RFC 9000 §10.2): the
    /// loop is about to stop, so the core would never report Closed.
    /// </summary>
    internal void LoopShutdownNow()
    {
        LoopCloseForShutdown();
        if (!_closed) LoopOnClosed();
    }

    /// <summary>
    /// The core reached the closed state. A close the peer started surfaces as <see cref="ConnectionResetException"/>
    /// from AcceptAsync (Kestrel's client-abort path, no GOAWAY); ours as an abort. Then ConnectionClosed fires.
    /// </summary>
    private void LoopOnClosed()
    {
        _closed = true;
        QuicConnectionError? error = Quic.CloseError;
        Exception failure;
        if (error is { IsLocal: false })
        {
            if (error.IsApplicationError) Error = (long)error.ErrorCode;
            failure = new ConnectionResetException($"The peer closed the connection: {error}.");
        }
        else
        {
            failure = new ConnectionAbortedException(error is null ? "The connection was closed." : $"The connection was closed: {error}.");
        }

        QuicSteeringLog.ConnectionClosed(Logger, ConnectionId, error is { IsLocal: false } ? "peer" : "server",
            error is { IsApplicationError: true } ? "application" : "transport", error?.ErrorCode ?? 0, error?.Reason ?? string.Empty,
            Quic.Stats.PacketsSent, Quic.Stats.PacketsLost, Quic.CongestionWindow, Quic.Rtt.SmoothedRtt.TotalMilliseconds, Quic.Rtt.MinRtt.TotalMilliseconds);
        _loop.Metrics?.ConnectionClosed(Quic.Stats, handshakeCompleted: _published);
        if (!_published && error is not null) QuicSteeringLog.HandshakeFailed(Logger, ConnectionId, error.ToString());
        if (!_published) _loop.LoopOnHandshakeFailed(this, error);

        _acceptedStreams.Writer.TryComplete(failure);
        foreach (QuicSteeringStreamContext stream in _streams.Values) stream.LoopOnConnectionClosed(failure);
        _streams.Clear();
        _waitingForCredit.Clear();
        _streamsAvailable?.TrySetException(failure);
        _streamsAvailable = null;
        ThreadPool.UnsafeQueueUserWorkItem(static cts => cts.Cancel(), _closedTokenSource, preferLocal: false);
    }
}
