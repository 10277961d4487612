using AspNetQuicSteer.Quic.Streams;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Connection;

internal sealed partial class QuicConnection
{
    /// <summary>Token for the Initial packets of this connection (from Retry or NEW_TOKEN, RFC 9000 §8.1).</summary>
    private byte[] _initialToken = [];

    private ReadOnlySpan<byte> InitialToken => _initialToken;

    private bool _pingPending;

    /// <summary>Queues an ack-eliciting PING in 1-RTT (RFC 9000 §19.2), e.g. a keep-alive or a liveness probe.</summary>
    public void Ping() => _pingPending = true;

    /// <summary>Application-space content beyond ACKs, CRYPTO and HANDSHAKE_DONE is waiting to be sent.</summary>
    private bool HasApplicationDataToSend
        => _pingPending || HasConnectionIdFramesToSend || HasPathFramesFor(_path) || (IsHandshakeComplete && _streams.HasDataToSend);

    /// <summary>Writes application-space frames (connection IDs, PING, then streams) into a 1-RTT packet.</summary>
    private void WriteApplicationFrames(ref QuicWriter writer, SentPacketTracker tracker, TimeSpan now)
    {
        WritePathFrames(ref writer, tracker, _path);
        WriteConnectionIdFrames(ref writer, tracker);
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
            default:
                throw new InvalidOperationException($"No owner for a lost {frame.Kind} frame.");
        }
    }
}
