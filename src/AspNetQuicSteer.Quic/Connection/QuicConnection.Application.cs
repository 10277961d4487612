using AspNetQuicSteer.Quic.Frames;
using AspNetQuicSteer.Quic.Streams;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Connection;

internal sealed partial class QuicConnection
{
    /// <summary>Token for the Initial packets of this connection (from Retry or NEW_TOKEN, RFC 9000 §8.1).</summary>
    private byte[] _initialToken = [];

    private ReadOnlySpan<byte> InitialToken => _initialToken;

    private bool _pingPending;

    /// <summary>A NEW_TOKEN token waiting to be sent (server) — RFC 9000 §8.1.3.</summary>
    private byte[]? _pendingNewToken;

    /// <summary>Client: the latest NEW_TOKEN token from the server, for the next connection to it (RFC 9000 §8.1.3).</summary>
    public byte[]? ReceivedNewToken { get; private set; }

    /// <summary>Client: a token from an earlier connection to present in our Initial packets (RFC 9000 §8.1.3).</summary>
    public void UseToken(byte[] token)
    {
        if (IsClient && Space(PacketNumberSpaceId.Initial).NextPacketNumber == 0) _initialToken = token;
    }

    private void IssueNewToken()
    {
        if (!IsClient && _options.NewTokens is { } provider) _pendingNewToken = provider(_path.Remote);
    }

    private void OnNewToken(ReadOnlySpan<byte> token) => ReceivedNewToken = token.ToArray();

    /// <summary>Queues an ack-eliciting PING in 1-RTT (RFC 9000 §19.2), e.g. a keep-alive or a liveness probe.</summary>
    public void Ping() => _pingPending = true;

    /// <summary>Application-space content beyond ACKs, CRYPTO and HANDSHAKE_DONE is waiting to be sent.</summary>
    private bool HasApplicationDataToSend
        => _pingPending || _pendingNewToken is not null || HasConnectionIdFramesToSend || HasPathFramesFor(_path) || (IsHandshakeComplete && _streams.HasDataToSend);

    /// <summary>Writes application-space frames (connection IDs, PING, then streams) into a 1-RTT packet.</summary>
    private void WriteApplicationFrames(ref QuicWriter writer, SentPacketTracker tracker, TimeSpan now)
    {
        WritePathFrames(ref writer, tracker, _path);
        WriteConnectionIdFrames(ref writer, tracker);
        if (_pendingNewToken is { } token)
        {
            var frame = new NewTokenFrame(token);
            if (frame.GetLength() <= writer.Remaining)
            {
                frame.Write(ref writer);
                tracker.Record(SentFrame.ForValue(SentFrameKind.NewToken, 0));
                _pendingNewToken = null;
            }
        }

        if (_pingPending && writer.Remaining >= 1)
        {
            WritePing(ref writer);
            tracker.Record(SentFrame.ForValue(SentFrameKind.Ping, 0));
            _pingPending = false;
        }

        // Stream data only once the peer's transport parameters gave us credit (RFC 9000 §7.4).
        if (IsHandshakeComplete) _streams.WriteFrames(ref writer, tracker, now, _rtt.SmoothedRtt);
    }

    private void OnApplicationFrameAcknowledged(in SentFrame frame)
    {
        if (QuicStreamManager.Owns(frame.Kind))
        {
            _streams.OnFrameAcknowledged(in frame);
            return;
        }

        switch (frame.Kind)
        {
            case SentFrameKind.NewConnectionId:
            case SentFrameKind.RetireConnectionId:
            case SentFrameKind.NewToken:
                break;
            default:
                throw new InvalidOperationException($"No owner for an acknowledged {frame.Kind} frame.");
        }
    }

    private void OnApplicationFrameLost(in SentFrame frame)
    {
        if (QuicStreamManager.Owns(frame.Kind))
        {
            _streams.OnFrameLost(in frame);
            return;
        }

        switch (frame.Kind)
        {
            case SentFrameKind.NewConnectionId:
            case SentFrameKind.RetireConnectionId:
                OnConnectionIdFrameLost(in frame);
                break;
            case SentFrameKind.NewToken:
                // RFC 9000 §13.3: a lost NEW_TOKEN is worth resending; a fresh token is as good as the lost one.
                IssueNewToken();
                break;
            default:
                throw new InvalidOperationException($"No owner for a lost {frame.Kind} frame.");
        }
    }
}
