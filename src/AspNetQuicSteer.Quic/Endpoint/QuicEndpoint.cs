using System.Net;
using System.Security.Cryptography;
using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Packets;
using AspNetQuicSteer.Quic.Tls;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Endpoint;

/// <summary>
/// Sans-IO endpoint: demultiplexes datagrams to connections by destination CID (RFC 9000 §5.2), creates
/// server connections for new Initials, answers unknown versions with Version Negotiation (RFC 9000 §6.1),
/// and round-robins transmits across connections. Addresses are opaque data here; no socket inside.
/// </summary>
internal sealed class QuicEndpoint : IDisposable
{
    private readonly QuicEndpointOptions _options;
    private readonly Dictionary<ConnectionId, EndpointConnection> _byConnectionId = new();
    private readonly List<EndpointConnection> _connections = new();
    private readonly Queue<QuicConnection> _accepted = new();
    private readonly Queue<(byte[] Datagram, EndPoint Remote)> _statelessTransmits = new();
    private int _nextTransmitIndex;

    public QuicEndpoint(QuicEndpointOptions options)
    {
        _options = options;
    }

    public int ConnectionCount => _connections.Count;

    public long DatagramsDropped { get; private set; }

    public long VersionNegotiationsSent { get; private set; }

    /// <summary>Starts a client connection to <paramref name="remote"/>.</summary>
    public QuicConnection Connect(TimeSpan now, EndPoint remote, Func<ReadOnlyMemory<byte>, IQuicTlsSession> tls)
    {
        var connection = QuicConnection.CreateClient(_options.Connection, tls, remote, now);
        Register(new EndpointConnection(connection), connection.LocalConnectionId);
        return connection;
    }

    /// <summary>A server connection created since the last call (its handshake may still be running).</summary>
    public bool TryAccept(out QuicConnection connection) => _accepted.TryDequeue(out connection!);

    public void HandleDatagram(TimeSpan now, EndPoint remote, Span<byte> datagram)
    {
        int localCidLength = _options.Connection.LocalConnectionIdLength;
        if (!PacketHeader.TryReadDestinationConnectionId(datagram, localCidLength, out ReadOnlySpan<byte> dcid)
            || dcid.Length > ConnectionId.MaxLength)
        {
            DatagramsDropped++;
            return;
        }

        if (_byConnectionId.TryGetValue(new ConnectionId(dcid), out EndpointConnection? existing))
        {
            existing.Connection.HandleDatagram(now, remote, datagram);
            ApplyConnectionIdChanges(existing);
            return;
        }

        if (!PacketHeader.TryParse(datagram, localCidLength, out PacketHeader header))
        {
            DatagramsDropped++;
            return;
        }

        if (header.Type == QuicPacketType.UnsupportedVersion)
        {
            // RFC 9000 §6.1: answer a first packet of an unknown version with Version Negotiation, but only for
            // datagrams large enough to be a client's first flight (§14.1), so it cannot amplify.
            if (datagram.Length >= QuicConnection.MinInitialDatagramSize)
            {
                QueueVersionNegotiation(remote, datagram, header);
            }

            return;
        }

        if (header.Type != QuicPacketType.Initial || _options.ServerTls is null
            || datagram.Length < QuicConnection.MinInitialDatagramSize
            || header.DestinationConnectionIdLength < 8
            || _connections.Count >= _options.MaxConnections)
        {
            // RFC 9000 §14.1: a server drops Initial datagrams below 1200 bytes. §7.2: a client's first DCID
            // has at least 8 bytes. Anything else with an unknown DCID belongs to no connection here.
            DatagramsDropped++;
            return;
        }

        var originalDcid = new ConnectionId(header.GetDestinationConnectionId(datagram));
        var clientScid = new ConnectionId(header.GetSourceConnectionId(datagram));
        ConnectionId localCid = _options.Connection.ConnectionIdGenerator.Generate();
        var connection = QuicConnection.CreateServer(_options.Connection, localCid, clientScid, originalDcid, _options.ServerTls, remote, now);
        var entry = new EndpointConnection(connection);
        Register(entry, localCid);

        // The client keeps using the original DCID until it sees our SCID (RFC 9000 §7.2), e.g. for the
        // second Initial of a ClientHello that spans two packets.
        _byConnectionId[originalDcid] = entry;
        entry.AliasConnectionId = originalDcid;
        _accepted.Enqueue(connection);
        connection.HandleDatagram(now, remote, datagram);
        ApplyConnectionIdChanges(entry);
    }

    /// <summary>Routes the IDs a connection issued and stops routing the ones the peer retired (RFC 9000 §5.1).</summary>
    private void ApplyConnectionIdChanges(EndpointConnection entry)
    {
        while (entry.Connection.TryPollConnectionIdChange(out ConnectionIdChange change))
        {
            if (change.Added)
            {
                _byConnectionId[change.ConnectionId] = entry;
                entry.ConnectionIds.Add(change.ConnectionId);
            }
            else
            {
                _byConnectionId.Remove(change.ConnectionId);
                entry.ConnectionIds.Remove(change.ConnectionId);
            }
        }
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
                entry.Connection.Dispose();
            }
        }
    }

    private void Register(EndpointConnection entry, ConnectionId localCid)
    {
        _byConnectionId[localCid] = entry;
        _connections.Add(entry);
    }

    private void QueueVersionNegotiation(EndPoint remote, ReadOnlySpan<byte> datagram, in PacketHeader header)
    {
        ReadOnlySpan<byte> dcid = header.GetDestinationConnectionId(datagram);
        ReadOnlySpan<byte> scid = header.GetSourceConnectionId(datagram);
        byte[] packet = new byte[VersionNegotiationPacket.GetLength(dcid.Length, scid.Length, 1)];
        var writer = new QuicWriter(packet);

        // RFC 9000 §17.2.1: the writer echoes the client's SCID as DCID and its DCID as SCID; we list version 1.
        VersionNegotiationPacket.Write(ref writer, (byte)RandomNumberGenerator.GetInt32(256), dcid, scid, [QuicConnection.Version1]);
        _statelessTransmits.Enqueue((packet, remote));
        VersionNegotiationsSent++;
    }

    public void Dispose()
    {
        foreach (EndpointConnection entry in _connections) entry.Connection.Dispose();
        _connections.Clear();
        _byConnectionId.Clear();
    }

    private sealed class EndpointConnection(QuicConnection connection)
    {
        public QuicConnection Connection { get; } = connection;

        public ConnectionId? AliasConnectionId { get; set; }

        /// <summary>IDs issued after the handshake ID that currently route here.</summary>
        public HashSet<ConnectionId> ConnectionIds { get; } = [];
    }
}
