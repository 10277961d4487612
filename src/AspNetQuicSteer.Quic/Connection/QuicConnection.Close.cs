using System.Text;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Connection;

internal sealed partial class QuicConnection
{
    private bool _closeFramePending;
    private TimeSpan _closeDeadline;

    /// <summary>Closes with an application error code (RFC 9000 §10.2, CONNECTION_CLOSE type 0x1d).</summary>
    public void Close(TimeSpan now, ulong applicationErrorCode, string reason = "")
        => CloseWithError(now, isApplication: true, applicationErrorCode, 0, reason);

    private void CloseWithError(TimeSpan now, bool isApplication, ulong errorCode, ulong frameType, string reason)
    {
        if (State is QuicConnectionState.Closing or QuicConnectionState.Draining or QuicConnectionState.Closed) return;
        CloseError = new QuicConnectionError(isApplication, errorCode, frameType, reason, IsLocal: true);
        _closeReason = Encoding.UTF8.GetBytes(reason.Length > MaxReasonBytes / 4 ? reason[..(MaxReasonBytes / 4)] : reason);

        // RFC 9000 §10.2: the closing state lasts three times the current PTO.
        State = QuicConnectionState.Closing;
        _closeFramePending = true;
        _closeDeadline = now + 3 * _rtt.ProbeTimeout(PeerMaxAckDelay);
    }

    /// <summary>
    /// RFC 9000 §10.3.1: a datagram ending in one of the peer's reset tokens: the peer lost this connection's state.
    /// Enter draining and never send again.
    /// </summary>
    public void OnStatelessReset(TimeSpan now)
    {
        Stats.StatelessResetsReceived++;
        OnPeerConnectionClose(now, isApplication: false, (ulong)TransportErrorCode.NoError, 0, "Stateless reset.");
    }

    /// <summary>RFC 9000 §10.2.2: the peer closed; enter draining and send nothing more.</summary>
    private void OnPeerConnectionClose(TimeSpan now, bool isApplication, ulong errorCode, ulong frameType, string reason)
    {
        if (State is QuicConnectionState.Draining or QuicConnectionState.Closed) return;
        CloseError ??= new QuicConnectionError(isApplication, errorCode, frameType, reason, IsLocal: false);
        State = QuicConnectionState.Draining;
        _closeDeadline = now + 3 * _rtt.ProbeTimeout(PeerMaxAckDelay);
    }

    /// <summary>
    /// RFC 9000 §10.2.3: before the handshake is confirmed the peer may lack 1-RTT keys, so CONNECTION_CLOSE is sent
    /// in every space we still have keys for; afterwards only in 1-RTT.
    /// </summary>
    private bool ShouldSendCloseIn(PacketNumberSpace space)
        => IsHandshakeConfirmed ? space.Id == PacketNumberSpaceId.Application : space.CanSend;

    private void EnterClosed()
    {
        if (State == QuicConnectionState.Closed) return;
        State = QuicConnectionState.Closed;
        foreach (PacketNumberSpace space in _spaces) space.Discard();
        _events.Enqueue(new QuicConnectionEvent(QuicConnectionEventKind.Closed));
    }

    /// <summary>The reason phrase is truncated so a CONNECTION_CLOSE always fits one small packet.</summary>
    private const int MaxReasonBytes = 128;

    private static TransportErrorCode ApplicationErrorInHandshakeSpaces => TransportErrorCode.ApplicationError;
}
