namespace AspNetQuicSteer.Client.Internal;

/// <summary>The handler's counters, updated with interlocked increments from any thread.</summary>
internal sealed class Http3HandlerCounters
{
    public long ConnectionsOpened;
    public long HandshakesFailed;
    public long GoAwaysReceived;
    public long RequestsRetried;
    public long RequestsCompleted;
    public long RequestsFailed;

    public QuicSteeringHttp3HandlerStatistics Snapshot() => new()
    {
        ConnectionsOpened = Interlocked.Read(ref ConnectionsOpened),
        HandshakesFailed = Interlocked.Read(ref HandshakesFailed),
        GoAwaysReceived = Interlocked.Read(ref GoAwaysReceived),
        RequestsRetried = Interlocked.Read(ref RequestsRetried),
        RequestsCompleted = Interlocked.Read(ref RequestsCompleted),
        RequestsFailed = Interlocked.Read(ref RequestsFailed),
    };
}
