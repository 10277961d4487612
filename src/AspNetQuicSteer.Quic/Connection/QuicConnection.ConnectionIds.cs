using System.Security.Cryptography;
using AspNetQuicSteer.Quic.Frames;
using AspNetQuicSteer.Quic.TransportParameters;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Connection;

/// <summary>Connection ID management, RFC 9000 §5.1: the IDs we issue and the IDs the peer gave us.</summary>
internal sealed partial class QuicConnection
{
    /// <summary>We keep at most this many of our IDs active (bounded by the peer's active_connection_id_limit).</summary>
    private const int MaxIssuedConnectionIds = 4;

    private readonly List<LocalConnectionIdEntry> _localIds = [];
    private readonly List<RemoteConnectionIdEntry> _remoteIds = [];
    private readonly Queue<LocalConnectionIdEntry> _pendingNewConnectionIds = new();
    private readonly Queue<ulong> _pendingRetireConnectionIds = new();
    private readonly Queue<ConnectionIdChange> _connectionIdChanges = new();
    private ulong _nextLocalSequence;
    private ulong _remoteRetirePriorTo;
    private ulong _remoteSequenceInUse;
    private ConnectionId _currentPacketDestination;

    public int ActiveLocalConnectionIds => _localIds.Count;

    public int ActiveRemoteConnectionIds => _remoteIds.Count;

    /// <summary>Next change to the set of our IDs that route to this connection; the endpoint applies them.</summary>
    public bool TryPollConnectionIdChange(out ConnectionIdChange change) => _connectionIdChanges.TryDequeue(out change);

    private void InitializeConnectionIds()
    {
        // RFC 9000 §5.1.1: the handshake ID has sequence number 0; a server's reset token for it travels in
        // the stateless_reset_token transport parameter.
        _localIds.Add(new LocalConnectionIdEntry(_nextLocalSequence++, _localConnectionId, NewResetToken(_localConnectionId)));
        _remoteIds.Add(new RemoteConnectionIdEntry(0, _remoteConnectionId, null));
    }

    private byte[] NewResetToken(ConnectionId id)
    {
        byte[] token = new byte[StatelessResetToken.Length];
        if (_options.StatelessResetTokens is { } factory)
        {
            factory(id).Span.CopyTo(token);
        }
        else
        {
            // RFC 9000 §10.3.2: a token from a CSPRNG is valid; a shared key makes it computable by every generation.
            RandomNumberGenerator.Fill(token);
        }

        return token;
    }

    /// <summary>RFC 9000 §5.1.1: offer the peer spare IDs, up to its active_connection_id_limit.</summary>
    private void IssueConnectionIds()
    {
        if (PeerTransportParameters is null || State != QuicConnectionState.Connected) return;
        int limit = (int)Math.Min(PeerTransportParameters.ActiveConnectionIdLimit, MaxIssuedConnectionIds);
        while (_localIds.Count < limit)
        {
            ConnectionId id = _options.ConnectionIdGenerator.Generate();
            var entry = new LocalConnectionIdEntry(_nextLocalSequence++, id, NewResetToken(id));
            _localIds.Add(entry);
            _pendingNewConnectionIds.Enqueue(entry);
            _connectionIdChanges.Enqueue(new ConnectionIdChange(ConnectionIdChangeKind.LocalAdded, id));
        }
    }

    /// <summary>RFC 9000 §19.16: the peer no longer uses one of our IDs.</summary>
    private void OnRetireConnectionId(ulong sequence, ulong frameType)
    {
        if (sequence >= _nextLocalSequence)
        {
            throw new QuicProtocolException(TransportErrorCode.ProtocolViolation,
                $"RETIRE_CONNECTION_ID for sequence {sequence}, which was never issued.", frameType);
        }

        int index = _localIds.FindIndex(e => e.Sequence == sequence);
        if (index < 0) return; // Already retired: retransmissions are harmless.
        LocalConnectionIdEntry entry = _localIds[index];
        if (entry.Id.Equals(_currentPacketDestination))
        {
            throw new QuicProtocolException(TransportErrorCode.ProtocolViolation,
                "RETIRE_CONNECTION_ID names the connection ID the packet carrying it was sent to.", frameType);
        }

        _localIds.RemoveAt(index);
        entry.Retired = true;
        _connectionIdChanges.Enqueue(new ConnectionIdChange(ConnectionIdChangeKind.LocalRetired, entry.Id));
        IssueConnectionIds();
    }

    /// <summary>RFC 9000 §19.15 / §5.1.2: a new ID from the peer, possibly retiring older ones.</summary>
    private void OnNewConnectionId(in NewConnectionIdFrame frame, ulong frameType)
    {
        if (_remoteConnectionId.IsEmpty)
        {
            // RFC 9000 §19.15: an endpoint that uses zero-length IDs cannot receive NEW_CONNECTION_ID.
            throw new QuicProtocolException(TransportErrorCode.ProtocolViolation, "NEW_CONNECTION_ID from a peer using zero-length IDs.", frameType);
        }

        var id = new ConnectionId(frame.ConnectionId);
        var token = new StatelessResetToken(frame.StatelessResetToken);
        foreach (RemoteConnectionIdEntry existing in _remoteIds)
        {
            if (existing.Sequence == frame.SequenceNumber)
            {
                // RFC 9000 §19.15: a repeated sequence number must carry the same ID and token.
                if (!existing.Id.Equals(id) || (existing.ResetToken is { } t && !t.Equals(token)))
                {
                    throw new QuicProtocolException(TransportErrorCode.ProtocolViolation, "NEW_CONNECTION_ID reuses a sequence number for a different ID.", frameType);
                }

                return;
            }
        }

        if (frame.SequenceNumber < _remoteRetirePriorTo)
        {
            // RFC 9000 §19.15: an ID already covered by Retire Prior To is retired at once.
            _pendingRetireConnectionIds.Enqueue(frame.SequenceNumber);
        }
        else
        {
            _remoteIds.Add(new RemoteConnectionIdEntry(frame.SequenceNumber, id, token));
            _connectionIdChanges.Enqueue(new ConnectionIdChange(ConnectionIdChangeKind.PeerResetTokenAdded, id, token));
        }

        if (frame.RetirePriorTo > _remoteRetirePriorTo)
        {
            _remoteRetirePriorTo = frame.RetirePriorTo;
            for (int i = _remoteIds.Count - 1; i >= 0; i--)
            {
                if (_remoteIds[i].Sequence < _remoteRetirePriorTo)
                {
                    _pendingRetireConnectionIds.Enqueue(_remoteIds[i].Sequence);
                    ForgetPeerResetToken(_remoteIds[i]);
                    _remoteIds.RemoveAt(i);
                }
            }

            if (_remoteSequenceInUse < _remoteRetirePriorTo) SwitchRemoteConnectionId();
        }

        // RFC 9000 §5.1.1: more active IDs than our active_connection_id_limit is CONNECTION_ID_LIMIT_ERROR.
        if ((ulong)_remoteIds.Count > LocalTransportParameters.ActiveConnectionIdLimit)
        {
            throw new QuicProtocolException(TransportErrorCode.ConnectionIdLimitError,
                $"The peer has {_remoteIds.Count} active connection IDs; the limit is {LocalTransportParameters.ActiveConnectionIdLimit}.", frameType);
        }
    }

    /// <summary>
    /// Moves to the peer's lowest unused ID and retires the one in use (after retirement, or before migrating,
    /// RFC 9000 §9.5, so a new path is not linkable to the old one). False when the peer gave no spare ID.
    /// </summary>
    public bool SwitchRemoteConnectionId()
    {
        RemoteConnectionIdEntry? next = null;
        foreach (RemoteConnectionIdEntry entry in _remoteIds)
        {
            if (entry.Sequence != _remoteSequenceInUse && (next is null || entry.Sequence < next.Sequence)) next = entry;
        }

        if (next is null) return false;
        int current = _remoteIds.FindIndex(e => e.Sequence == _remoteSequenceInUse);
        if (current >= 0)
        {
            ForgetPeerResetToken(_remoteIds[current]);
            _remoteIds.RemoveAt(current);
            _pendingRetireConnectionIds.Enqueue(_remoteSequenceInUse);
        }

        _remoteSequenceInUse = next.Sequence;
        _remoteConnectionId = next.Id;
        return true;
    }

    private void ForgetPeerResetToken(RemoteConnectionIdEntry entry)
    {
        if (entry.ResetToken is { } token)
        {
            _connectionIdChanges.Enqueue(new ConnectionIdChange(ConnectionIdChangeKind.PeerResetTokenRetired, entry.Id, token));
        }
    }

    private bool HasConnectionIdFramesToSend => _pendingNewConnectionIds.Count > 0 || _pendingRetireConnectionIds.Count > 0;

    private void WriteConnectionIdFrames(ref QuicWriter writer, SentPacketTracker tracker)
    {
        while (_pendingRetireConnectionIds.TryPeek(out ulong sequence))
        {
            var retire = new RetireConnectionIdFrame(sequence);
            if (retire.GetLength() > writer.Remaining) return;
            retire.Write(ref writer);
            tracker.Record(SentFrame.ForValue(SentFrameKind.RetireConnectionId, sequence));
            _pendingRetireConnectionIds.Dequeue();
        }

        while (_pendingNewConnectionIds.TryPeek(out LocalConnectionIdEntry? entry))
        {
            if (entry.Retired)
            {
                _pendingNewConnectionIds.Dequeue();
                continue;
            }

            var frame = new NewConnectionIdFrame(entry.Sequence, 0, entry.IdBytes, entry.ResetToken);
            if (frame.GetLength() > writer.Remaining) return;
            frame.Write(ref writer);
            tracker.Record(SentFrame.ForValue(SentFrameKind.NewConnectionId, entry.Sequence));
            _pendingNewConnectionIds.Dequeue();
        }
    }

    private void OnConnectionIdFrameLost(in SentFrame frame)
    {
        ulong sequence = frame.Value;
        if (frame.Kind == SentFrameKind.NewConnectionId)
        {
            // RFC 9000 §13.3: resent unless the ID was retired meanwhile.
            LocalConnectionIdEntry? entry = _localIds.Find(e => e.Sequence == sequence);
            if (entry is not null) _pendingNewConnectionIds.Enqueue(entry);
        }
        else
        {
            _pendingRetireConnectionIds.Enqueue(sequence);
        }
    }

    private sealed class LocalConnectionIdEntry(ulong sequence, ConnectionId id, byte[] resetToken)
    {
        public ulong Sequence { get; } = sequence;

        public ConnectionId Id { get; } = id;

        public byte[] IdBytes { get; } = id.Span.ToArray();

        public byte[] ResetToken { get; } = resetToken;

        public bool Retired { get; set; }
    }

    private sealed class RemoteConnectionIdEntry(ulong sequence, ConnectionId id, StatelessResetToken? resetToken)
    {
        public ulong Sequence { get; } = sequence;

        public ConnectionId Id { get; } = id;

        public StatelessResetToken? ResetToken { get; set; } = resetToken;
    }
}
