using System.Diagnostics.Metrics;
using AspNetQuicSteer.Quic.Connection;

namespace AspNetQuicSteer.Kestrel.Internal;

/// <summary>
/// The transport's <see cref="System.Diagnostics.Metrics"/> instruments (meter <see cref="MeterName"/>). Per-packet
/// figures are observable instruments read from the I/O loops' counters, so the packet path pays nothing for them.
/// </summary>
internal sealed class QuicSteeringMetrics : IDisposable
{
    public const string MeterName = "AspNetQuicSteer.Transport";

    private readonly Meter _meter;
    private readonly object _listenersLock = new();
    private readonly List<QuicSteeringConnectionListener> _listeners = [];
    private readonly UpDownCounter<long> _activeConnections;
    private readonly Counter<long> _connections;
    private readonly Counter<long> _handshakes;
    private readonly Counter<long> _failedHandshakes;
    private readonly Histogram<double> _handshakeDuration;
    private readonly Counter<long> _streams;
    private readonly Counter<long> _packetsLost;

    public QuicSteeringMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
        _activeConnections = _meter.CreateUpDownCounter<long>("quicsteer.connections.active", "{connection}", "QUIC connections open now (handshaking or established).");
        _connections = _meter.CreateCounter<long>("quicsteer.connections", "{connection}", "QUIC connections started (an Initial was accepted).");
        _handshakes = _meter.CreateCounter<long>("quicsteer.handshakes", "{handshake}", "Completed QUIC handshakes.");
        _failedHandshakes = _meter.CreateCounter<long>("quicsteer.handshakes.failed", "{handshake}", "Connections that closed before their handshake completed.");
        _handshakeDuration = _meter.CreateHistogram<double>("quicsteer.handshake.duration", "s", "Time from the first Initial to handshake completion on the server.");
        _streams = _meter.CreateCounter<long>("quicsteer.streams", "{stream}", "QUIC streams opened (tags: direction, initiator).");
        _packetsLost = _meter.CreateCounter<long>("quicsteer.packets.lost", "{packet}", "Packets declared lost (RFC 9002 §6), counted when their connection closes.");
        _meter.CreateObservableCounter("quicsteer.datagrams.received", () => Sum(static l => l.Driver.DatagramsReceived), "{datagram}", "UDP datagrams received.");
        _meter.CreateObservableCounter("quicsteer.datagrams.sent", () => Sum(static l => l.Driver.DatagramsSent), "{datagram}", "UDP datagrams sent.");
        _meter.CreateObservableCounter("quicsteer.bytes.received", () => Sum(static l => l.Driver.BytesReceived), "By", "UDP payload bytes received.");
        _meter.CreateObservableCounter("quicsteer.bytes.sent", () => Sum(static l => l.Driver.BytesSent), "By", "UDP payload bytes sent.");
        _meter.CreateObservableCounter("quicsteer.datagrams.dropped", () => Sum(static l => l.Driver.TruncatedDatagrams + l.Driver.DatagramErrors), "{datagram}", "Datagrams the I/O loop could not process.");
        _meter.CreateObservableCounter("quicsteer.syscalls.receive", () => Sum(static l => l.Driver.Socket.ReceiveCalls), "{call}", "Receive system calls (recvmmsg batches).");
        _meter.CreateObservableCounter("quicsteer.syscalls.send", () => Sum(static l => l.Driver.Socket.SendCalls), "{call}", "Send system calls (sendmmsg batches).");
    }

    public void AddListener(QuicSteeringConnectionListener listener)
    {
        lock (_listenersLock) _listeners.Add(listener);
    }

    public void RemoveListener(QuicSteeringConnectionListener listener)
    {
        lock (_listenersLock) _listeners.Remove(listener);
    }

    public void ConnectionStarted()
    {
        _activeConnections.Add(1);
        _connections.Add(1);
    }

    public void HandshakeCompleted(TimeSpan duration)
    {
        _handshakes.Add(1);
        _handshakeDuration.Record(duration.TotalSeconds);
    }

    public void ConnectionClosed(QuicConnectionStats stats, bool handshakeCompleted)
    {
        _activeConnections.Add(-1);
        if (!handshakeCompleted) _failedHandshakes.Add(1);
        if (stats.PacketsLost > 0) _packetsLost.Add(stats.PacketsLost);
    }

    public void StreamOpened(bool bidirectional, bool inbound)
        => _streams.Add(1, new KeyValuePair<string, object?>("direction", bidirectional ? "bidirectional" : "unidirectional"),
            new KeyValuePair<string, object?>("initiator", inbound ? "client" : "server"));

    public void Dispose() => _meter.Dispose();

    private long Sum(Func<QuicSteeringConnectionListener, long> value)
    {
        long total = 0;
        lock (_listenersLock)
        {
            foreach (QuicSteeringConnectionListener listener in _listeners) total += value(listener);
        }

        return total;
    }
}
