using System.Net;
using System.Security.Cryptography;
using AspNetQuicSteer.Quic.Frames;
using AspNetQuicSteer.Quic.Recovery;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Connection;

/// <summary>Paths, path validation (RFC 9000 §8.2) and connection migration (RFC 9000 §9).</summary>
internal sealed partial class QuicConnection
{
    private readonly Queue<(QuicPath Path, ulong Data)> _pendingPathResponses = new();
    private QuicPath _path;
    private QuicPath? _previousPath;
    private QuicPath? _candidatePath;

    /// <summary>The path the datagram being processed arrived on.</summary>
    private QuicPath _receivingPath;

    public EndPoint RemoteAddress => _path.Remote;

    public bool IsPathValidated => _path.Validated;

    public int Migrations { get; private set; }

    /// <summary>
    /// Client: the local address changed (the driver rebound its socket, RFC 9000 §9.2). The client moves to a
    /// fresh connection ID so the new path is not linkable (§9.5), validates the path, and resets congestion
    /// state (§9.4).
    /// </summary>
    public void OnLocalAddressChanged(TimeSpan now)
    {
        if (!IsClient || !IsHandshakeConfirmed) return;
        SwitchRemoteConnectionId();
        StartPathValidation(now, _path);
        ResetCongestionState(now);
        Migrations++;
    }

    private QuicPath PathFor(EndPoint remote)
    {
        if (remote.Equals(_path.Remote)) return _path;
        if (_candidatePath is not null && remote.Equals(_candidatePath.Remote)) return _candidatePath;
        if (_previousPath is not null && remote.Equals(_previousPath.Remote)) return _previousPath;
        _candidatePath = new QuicPath(remote, validated: false);
        return _candidatePath;
    }

    /// <summary>
    /// After a packet from another address was processed: a server follows a non-probing packet that carries the
    /// highest packet number so far (RFC 9000 §9.3), never before the handshake is confirmed (§9).
    /// </summary>
    private void ConsiderMigration(TimeSpan now, PacketNumberSpace space, ulong packetNumber, bool probingOnly)
    {
        if (ReferenceEquals(_receivingPath, _path) || IsClient || probingOnly || !IsHandshakeConfirmed
            || space.Id != PacketNumberSpaceId.Application || space.LargestReceived != packetNumber)
        {
            return;
        }

        QuicPath newPath = _receivingPath;
        bool sameAddress = newPath.Remote is IPEndPoint n && _path.Remote is IPEndPoint o && n.Address.Equals(o.Address);
        _previousPath = _path.Validated ? _path : _previousPath;
        _path = newPath;
        if (ReferenceEquals(_candidatePath, newPath)) _candidatePath = null;
        Migrations++;

        // RFC 9000 §9.5: do not send to a new address with the connection ID used on the old one.
        SwitchRemoteConnectionId();

        // RFC 9000 §9.4: a new IP address means a new network path: congestion and RTT state start over. A port
        // change alone (NAT rebinding) keeps them.
        if (!sameAddress) ResetCongestionState(now);

        // RFC 9000 §9.3 / §8.2: validate the new address; until then the 3x limit applies to it.
        if (!newPath.Validated) StartPathValidation(now, newPath);
    }

    private void ResetCongestionState(TimeSpan now)
    {
        _rtt.Reset();
        Congestion = _options.CongestionControl?.Create(now, MaxDatagramSize);
    }

    private void StartPathValidation(TimeSpan now, QuicPath path)
    {
        path.ChallengeData = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));
        path.ChallengePending = true;

        // RFC 9000 §8.2.4: abandon after three times the larger of the current PTO and the new path's (kInitialRtt based).
        TimeSpan pto = _rtt.ProbeTimeout(PeerMaxAckDelay);
        TimeSpan initialPto = 3 * RttEstimator.InitialRtt;
        path.ValidationDeadline = now + 3 * (pto > initialPto ? pto : initialPto);
    }

    private void OnPathChallenge(ulong data)
    {
        // RFC 9000 §8.2.2: answer on the path the challenge arrived on, echoing the data.
        if (_pendingPathResponses.Count < 8) _pendingPathResponses.Enqueue((_receivingPath, data));
    }

    private void OnPathResponse(ulong data)
    {
        // RFC 9000 §8.2.3: a matching PATH_RESPONSE received on any path validates the challenged path.
        if (!TryValidate(_path, data) && !TryValidate(_candidatePath, data)) TryValidate(_previousPath, data);
    }

    private bool TryValidate(QuicPath? path, ulong data)
    {
        if (path?.ChallengeData != data) return false;
        path.Validated = true;
        path.ChallengeData = null;
        path.ChallengePending = false;
        path.ValidationDeadline = null;
        if (ReferenceEquals(path, _path)) _previousPath = null;
        return true;
    }

    /// <summary>RFC 9000 §8.2.4 / §9.3.2: a migration whose validation failed falls back to the last validated path.</summary>
    private void CheckPathValidationTimeout(TimeSpan now)
    {
        if (_path.ValidationDeadline is { } deadline && now >= deadline)
        {
            _path.ValidationDeadline = null;
            _path.ChallengeData = null;
            if (_previousPath is not null)
            {
                _path = _previousPath;
                _previousPath = null;
            }
        }

        if (_candidatePath?.ValidationDeadline is { } candidateDeadline && now >= candidateDeadline)
        {
            _candidatePath = null;
        }
    }

    private TimeSpan? PathValidationDeadline => _path.ValidationDeadline;

    private bool HasPathFramesFor(QuicPath path)
    {
        if (path.ChallengePending) return true;
        foreach ((QuicPath p, _) in _pendingPathResponses)
        {
            if (ReferenceEquals(p, path)) return true;
        }

        return false;
    }

    /// <summary>A path other than the active one that has PATH_CHALLENGE/PATH_RESPONSE waiting.</summary>
    private QuicPath? OffPathWithPendingFrames()
    {
        foreach ((QuicPath p, _) in _pendingPathResponses)
        {
            if (!ReferenceEquals(p, _path)) return p;
        }

        return _candidatePath is { ChallengePending: true } ? _candidatePath : null;
    }

    /// <summary>Writes PATH_RESPONSE / PATH_CHALLENGE frames destined to <paramref name="path"/>.</summary>
    private void WritePathFrames(ref QuicWriter writer, SentPacketTracker tracker, QuicPath path)
    {
        int count = _pendingPathResponses.Count;
        for (int i = 0; i < count; i++)
        {
            (QuicPath p, ulong data) = _pendingPathResponses.Dequeue();
            if (ReferenceEquals(p, path) && writer.Remaining >= 9)
            {
                new PathResponseFrame(data).Write(ref writer);
                tracker.Record(SentFrame.ForValue(SentFrameKind.PathResponse, data));
            }
            else
            {
                _pendingPathResponses.Enqueue((p, data));
            }
        }

        if (path.ChallengePending && path.ChallengeData is { } challenge && writer.Remaining >= 9)
        {
            new PathChallengeFrame(challenge).Write(ref writer);
            tracker.Record(SentFrame.ForValue(SentFrameKind.PathChallenge, challenge));
            path.ChallengePending = false;
        }
    }
}
