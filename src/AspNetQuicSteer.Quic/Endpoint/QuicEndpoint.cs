using System.Net;
using System.Security.Cryptography;
using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Endpoint.Stateless;
using AspNetQuicSteer.Quic.Packets;
using AspNetQuicSteer.Quic.Tls;
using AspNetQuicSteer.Quic.TransportParameters;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Endpoint;

/// <summary>
/// Sans-IO endpoint: demultiplexes datagrams to connections by destination CID (RFC 9000 §5.2), decides per new
/// Initial whether to accept, Retry, refuse or drop it, answers unknown versions with Version Negotiation (§6.1),
/// sends and recognizes stateless resets (§10.3), and round-robins transmits across connections. Addresses are
/// opaque data here; no socket inside. Split by concern: .Stateless holds the packets sent without a connection.
/// </summary>
internal sealed partial class QuicEndpoint : IDisposable
{
    private readonly QuicEndpointOptions _options;
    private readonly Dictionary<ConnectionId, EndpointConnection> _byConnectionId = new();
    private readonly Dictionary<StatelessResetToken, EndpointConnection> _byPeerResetToken = new();
    private readonly List<EndpointConnection> _connections = new();
    private readonly Queue<QuicConnection> _accepted = new();
    private readonly Queue<(byte[] Datagram, EndPoint Remote)> _statelessTransmits = new();
    private readonly AddressValidationTokenProtector _tokens;
    private readonly Dictionary<EndPoint, byte[]> _newTokenCache = new();
    private readonly StatelessResetTokenGenerator _resetTokens;
    private readonly StatelessResetRateLimiter _resetLimiter;
    private int _nextTransmitIndex;

    public QuicEndpoint(QuicEndpointOptions options)
    {
        _options = options;
        StatelessKeyRing keys = options.Keys ?? StatelessKeyRing.CreateRandom();
        _tokens = new AddressValidationTokenProtector(keys);
        _resetTokens = new StatelessResetTokenGenerator(keys);
        _resetLimiter = new StatelessResetRateLimiter(options.StatelessResetsPerSecond, options.StatelessResetsPerSecond);

        // RFC 9000 §10.3.2: keyed reset tokens, so any generation sharing the keys can reset our IDs.
        options.Connection.StatelessResetTokens ??= id => _resetTokens.Compute(id);

        // RFC 9000 §8.1.3: tokens for future connections, bound to the client's IP, valid for any generation.
        if (options.ServerTls is not null) options.Connection.NewTokens ??= IssueNewToken;
    }

    public int ConnectionCount => _connections.Count;

    public EndpointStats Stats { get; } = new();

    /// <summary>Starts a client connection to <paramref name="remote"/>.</summary>
    public QuicConnection Connect(TimeSpan now, EndPoint remote, Func<ReadOnlyMemory<byte>, IQuicTlsSession> tls)
    {
        var connection = QuicConnection.CreateClient(_options.Connection, tls, remote, now);

        // RFC 9000 §8.1.3: present the server's last NEW_TOKEN token so it can skip address validation.
        if (_newTokenCache.TryGetValue(remote, out byte[]? token)) connection.UseToken(token);
        var entry = new EndpointConnection(connection);
        Register(entry, connection.LocalConnectionId);
        ApplyConnectionIdChanges(entry);
        return connection;
    }

    /// <summary>A server connection created since the last call (its handshake may still be running).</summary>
    public bool TryAccept(out QuicConnection connection) => _accepted.TryDequeue(out connection!);

    public void HandleDatagram(TimeSpan now, EndPoint remote, Span<byte> datagram)
    {
        int localCidLength = _options.Connection.LocalConnectionIdLength;
        if (PacketHeader.TryReadDestinationConnectionId(datagram, localCidLength, out ReadOnlySpan<byte> dcid)
            && dcid.Length <= ConnectionId.MaxLength
            && _byConnectionId.TryGetValue(new ConnectionId(dcid), out EndpointConnection? existing))
        {
            existing.Connection.HandleDatagram(now, remote, datagram);
            ApplyConnectionIdChanges(existing);
            return;
        }

        // RFC 9000 §10.3.1: a datagram no connection claims may be a peer's stateless reset.
        if (TryHandleStatelessReset(now, datagram)) return;

        if (!PacketHeader.TryParse(datagram, localCidLength, out PacketHeader header))
        {
            Stats.DatagramsDropped++;
            return;
        }

        switch (header.Type)
        {
            case QuicPacketType.UnsupportedVersion:
                // RFC 9000 §6.1: answer a first packet of an unknown version with Version Negotiation, but only for
                // datagrams large enough to be a client's first flight (§14.1), so it cannot amplify.
                if (datagram.Length >= QuicConnection.MinInitialDatagramSize) QueueVersionNegotiation(remote, datagram, header);
                else Stats.DatagramsDropped++;
                return;
            case QuicPacketType.Initial:
                HandleNewInitial(now, remote, datagram, header);
                return;
            case QuicPacketType.OneRtt:
                // RFC 9000 §10.3: a short-header packet for a connection we do not have gets a stateless reset, but
                // only if its DCID could be one we issued (the generator knows its layout); anything else is noise.
                ReadOnlySpan<byte> shortDcid = header.GetDestinationConnectionId(datagram);
                if (_options.Connection.ConnectionIdGenerator.Validate(shortDcid))
                {
                    QueueStatelessReset(now, remote, datagram.Length, shortDcid);
                }
                else
                {
                    Stats.DatagramsDropped++;
                }

                return;
            default:
                Stats.DatagramsDropped++;
                return;
        }
    }

    private void HandleNewInitial(TimeSpan now, EndPoint remote, Span<byte> datagram, in PacketHeader header)
    {
        // RFC 9000 §14.1: a server drops Initial datagrams below 1200 bytes. §7.2: a client's first DCID has at
        // least 8 bytes. A client-only endpoint never accepts.
        if (_options.ServerTls is null || datagram.Length < QuicConnection.MinInitialDatagramSize
            || header.DestinationConnectionIdLength < 8 || _connections.Count >= _options.MaxConnections
            || !PeerAddress.TryFromEndPoint(remote, out PeerAddress peer))
        {
            Stats.DatagramsDropped++;
            return;
        }

        ReadOnlySpan<byte> token = header.GetToken(datagram);
        ReadOnlySpan<byte> initialDcid = header.GetDestinationConnectionId(datagram);
        DateTimeOffset wallClock = _options.TimeProvider.GetUtcNow();
        AddressTokenValidation validation = token.IsEmpty ? default : _tokens.Validate(token, peer, initialDcid, wallClock);
        var context = new InitialAdmissionContext(peer, !token.IsEmpty, validation, HandshakesInProgress(), _connections.Count);
        InitialAdmissionDecision decision = _options.Admission.Decide(context);

        switch (decision.Action)
        {
            case InitialAdmissionAction.Retry:
                QueueRetry(remote, peer, datagram, header, wallClock);
                return;
            case InitialAdmissionAction.Refuse:
                QueueRefusal(remote, datagram, header, decision.ErrorCode);
                return;
            case InitialAdmissionAction.Drop:
                Stats.DatagramsDropped++;
                return;
        }

        // RFC 9000 §8.1.2 / §7.3: after a valid Retry token, the connection authenticates the client's original DCID
        // and our Retry SCID, and the client's address counts as validated.
        RetryContext? retry = validation.IsValid && validation.Kind == AddressTokenKind.Retry
            ? new RetryContext(validation.OriginalDestinationConnectionId, validation.RetrySourceConnectionId)
            : null;

        var initialDcidId = new ConnectionId(initialDcid);
        var clientScid = new ConnectionId(header.GetSourceConnectionId(datagram));
        ConnectionId localCid = _options.Connection.ConnectionIdGenerator.Generate();
        var connection = QuicConnection.CreateServer(_options.Connection, localCid, clientScid, initialDcidId, _options.ServerTls, remote, now, retry);
        connection.HandleDatagram(now, remote, datagram);
        if (connection.Stats.PacketsReceived == 0)
        {
            // Nothing in the datagram authenticated under the Initial keys (RFC 9001 §5.2): garbage or a forgery.
            // No state is kept for it, so floods of junk Initials cannot fill the connection table.
            connection.Dispose();
            Stats.DatagramsDropped++;
            return;
        }

        var entry = new EndpointConnection(connection);
        Register(entry, localCid);

        // The client keeps using its first DCID until it sees our SCID (RFC 9000 §7.2), e.g. for the second
        // Initial of a ClientHello that spans two packets.
        _byConnectionId[initialDcidId] = entry;
        entry.AliasConnectionId = initialDcidId;
        _accepted.Enqueue(connection);
        Stats.ConnectionsAccepted++;
        ApplyConnectionIdChanges(entry);
    }

    private byte[]? IssueNewToken(EndPoint remote)
    {
        if (!PeerAddress.TryFromEndPoint(remote, out PeerAddress peer)) return null;
        byte[] token = new byte[AddressValidationTokenProtector.GetNewTokenLength(peer)];
        int length = _tokens.WriteNewToken(peer, _options.TimeProvider.GetUtcNow(), token);
        return token[..length];
    }

    private int HandshakesInProgress()
    {
        int count = 0;
        foreach (EndpointConnection entry in _connections)
        {
            if (!entry.Connection.IsHandshakeComplete) count++;
        }

        return count;
    }

    /// <summary>Writes the next datagram to send and its destination; false when nothing is ready.</summary>
    public bool TryPollTransmit(TimeSpan now, Span<byte> buffer, out int length, out EndPoint? remote)
    {
        if (_statelessTransmits.TryDequeue(out (byte[] Datagram, EndPoint Remote) stateless))
        {
            stateless.Datagram.CopyTo(buffer);
            length = stateless.Datagram.Length;
            remote = stateless.Remote;
            return true;
        }

        for (int i = 0; i < _connections.Count; i++)
        {
            int index = (_nextTransmitIndex + i) % _connections.Count;
            EndpointConnection entry = _connections[index];
            length = entry.Connection.PollTransmit(now, buffer, out EndPoint destination);
            if (length > 0)
            {
                _nextTransmitIndex = index + 1;
                remote = destination;
                return true;
            }
        }

        length = 0;
        remote = null;
        return false;
    }

    public TimeSpan? NextTimeout(TimeSpan now)
    {
        TimeSpan? next = null;
        foreach (EndpointConnection entry in _connections)
        {
            if (entry.Connection.NextTimeout(now) is { } t && (next is null || t < next)) next = t;
        }

        return next;
    }

    /// <summary>Runs expired timers and forgets connections that reached the closed state.</summary>
    public void HandleTimeout(TimeSpan now)
    {
        for (int i = _connections.Count - 1; i >= 0; i--)
        {
            EndpointConnection entry = _connections[i];
            if (entry.Connection.NextTimeout(now) is { } t && t <= now) entry.Connection.HandleTimeout(now);
            ApplyConnectionIdChanges(entry);
            if (entry.Connection.State == QuicConnectionState.Closed)
            {
                _connections.RemoveAt(i);
                _byConnectionId.Remove(entry.Connection.LocalConnectionId);
                if (entry.AliasConnectionId is { } alias) _byConnectionId.Remove(alias);
                foreach (ConnectionId id in entry.ConnectionIds) _byConnectionId.Remove(id);
                foreach (StatelessResetToken token in entry.PeerResetTokens) _byPeerResetToken.Remove(token);
                entry.Connection.Dispose();
            }
        }
    }

    private void Register(EndpointConnection entry, ConnectionId localCid)
    {
        _byConnectionId[localCid] = entry;
        _connections.Add(entry);
    }

    /// <summary>Applies a connection's routing changes: our IDs (RFC 9000 §5.1) and the peer's reset tokens (§10.3.1).</summary>
    private void ApplyConnectionIdChanges(EndpointConnection entry)
    {
        if (entry.Connection.ReceivedNewToken is { } newToken) _newTokenCache[entry.Connection.RemoteAddress] = newToken;

        while (entry.Connection.TryPollConnectionIdChange(out ConnectionIdChange change))
        {
            switch (change.Kind)
            {
                case ConnectionIdChangeKind.LocalAdded:
                    _byConnectionId[change.ConnectionId] = entry;
                    entry.ConnectionIds.Add(change.ConnectionId);
                    break;
                case ConnectionIdChangeKind.LocalRetired:
                    _byConnectionId.Remove(change.ConnectionId);
                    entry.ConnectionIds.Remove(change.ConnectionId);
                    break;
                case ConnectionIdChangeKind.PeerResetTokenAdded:
                    _byPeerResetToken[change.ResetToken] = entry;
                    entry.PeerResetTokens.Add(change.ResetToken);
                    break;
                case ConnectionIdChangeKind.PeerResetTokenRetired:
                    _byPeerResetToken.Remove(change.ResetToken);
                    entry.PeerResetTokens.Remove(change.ResetToken);
                    break;
            }
        }
    }

    public void Dispose()
    {
        foreach (EndpointConnection entry in _connections) entry.Connection.Dispose();
        _connections.Clear();
        _byConnectionId.Clear();
        _byPeerResetToken.Clear();
        _tokens.Dispose();
    }

    private sealed class EndpointConnection(QuicConnection connection)
    {
        public QuicConnection Connection { get; } = connection;

        public ConnectionId? AliasConnectionId { get; set; }

        /// <summary>IDs issued after the handshake ID that currently route here.</summary>
        public HashSet<ConnectionId> ConnectionIds { get; } = [];

        public HashSet<StatelessResetToken> PeerResetTokens { get; } = [];
    }
}
