using System.Net;
using AspNetQuicSteer.Steering.Routing;

namespace AspNetQuicSteer.Steering.Forwarding;

/// <summary>
/// The userspace correctness path on the receive side (ARCHITECTURE.md §6 "forwarding", invariant 1): every datagram
/// the socket receives is routed (<see cref="PacketRouter"/>); what belongs to this generation is processed, what
/// belongs to another live generation is forwarded to it over <see cref="ForwardingEndpoint"/> with the original
/// addresses, what the router drops is dropped. Plugs into the driver as its divert hook; runs on the loop thread.
/// </summary>
internal sealed class ForwardingDivert
{
    private readonly GenerationId _self;
    private readonly ForwardingEndpoint _forwarding;
    private readonly IPEndPoint _sharedEndPoint;
    private SteeringTable _table;
    private RouteStatistics _statistics;
    private long _forwarded;
    private long _forwardFailed;
    private long _deferred;

    // Datagrams the owner's queue had no room for (net.unix.max_dgram_qlen, 10 by default, fills in a burst), retried
    // in order on the next loop turns (FlushPending). Preallocated on first use: nothing is allocated per datagram.
    private Pending[]? _pending;
    private int _pendingHead;
    private int _pendingCount;

    public ForwardingDivert(GenerationId self, SteeringTable table, ForwardingEndpoint forwarding, IPEndPoint sharedEndPoint)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(forwarding);
        ArgumentNullException.ThrowIfNull(sharedEndPoint);
        _self = self;
        _table = table;
        _forwarding = forwarding;
        _sharedEndPoint = sharedEndPoint;
    }

    /// <summary>The routing snapshot; replaced whole when generations join, activate or leave.</summary>
    public SteeringTable Table
    {
        get => Volatile.Read(ref _table);
        set => Volatile.Write(ref _table, value ?? throw new ArgumentNullException(nameof(value)));
    }

    /// <summary>Datagrams sent on to another generation.</summary>
    public long Forwarded => Interlocked.Read(ref _forwarded);

    /// <summary>Datagrams for another generation that could not be forwarded (its queue full, or it is gone): dropped.</summary>
    public long ForwardFailed => Interlocked.Read(ref _forwardFailed);

    /// <summary>Datagrams held back because the owner's queue was full (then sent by <see cref="FlushPending"/>, or dropped).</summary>
    public long Deferred => Interlocked.Read(ref _deferred);

    /// <summary>Datagrams waiting to be retried.</summary>
    public int PendingCount => _pendingCount;

    /// <summary>Routing counts by reason (loop thread; read them from it).</summary>
    public RouteStatistics Statistics => _statistics;

    /// <summary>The driver's divert hook: true when the datagram was forwarded or dropped rather than processed here.</summary>
    public bool TryDivert(ReadOnlySpan<byte> datagram, IPEndPoint remote, ReadOnlySpan<byte> localAddress)
    {
        RouteDecision decision = PacketRouter.Route(datagram, Table);
        _statistics.Record(decision);
        if (decision.IsDrop) return true;
        if (decision.Generation == _self) return false;

        // The owner answers from the shared port with the address the client dialled (IP_PKTINFO on wildcard binds).
        IPEndPoint local = localAddress.IsEmpty ? _sharedEndPoint : new IPEndPoint(new IPAddress(localAddress), _sharedEndPoint.Port);
        var header = ForwardedDatagramHeader.Create(remote, local);
        if (_pendingCount > 0)
        {
            // Keep the order: a datagram must not overtake the ones already waiting.
            Defer(decision.Generation, datagram, header);
            return true;
        }

        Complete(_forwarding.Send(decision.Generation, datagram, header), decision.Generation, datagram, header);
        return true;
    }

    /// <summary>
    /// Retries held-back datagrams in order until the owner's queue is full again. Call once per loop turn (the
    /// listener does); cheap when nothing waits.
    /// </summary>
    public void FlushPending()
    {
        Pending[]? pending = _pending;
        while (_pendingCount > 0 && pending is not null)
        {
            ref Pending entry = ref pending[_pendingHead];
            ForwardResult result = _forwarding.Send(entry.Owner, entry.Buffer.AsSpan(0, entry.Length), entry.Header);
            if (result == ForwardResult.QueueFull) return;
            if (result == ForwardResult.Sent) Interlocked.Increment(ref _forwarded);
            else Interlocked.Increment(ref _forwardFailed);
            _pendingHead = (_pendingHead + 1) % pending.Length;
            _pendingCount--;
        }
    }

    private void Complete(ForwardResult result, GenerationId owner, ReadOnlySpan<byte> datagram, in ForwardedDatagramHeader header)
    {
        switch (result)
        {
            case ForwardResult.Sent:
                Interlocked.Increment(ref _forwarded);
                break;
            case ForwardResult.QueueFull:
                Defer(owner, datagram, header);
                break;
            default:
                Interlocked.Increment(ref _forwardFailed);
                break;
        }
    }

    private void Defer(GenerationId owner, ReadOnlySpan<byte> datagram, in ForwardedDatagramHeader header)
    {
        _pending ??= CreatePending();
        if (_pendingCount == _pending.Length || datagram.Length > PendingSlotSize)
        {
            // Beyond what a burst explains: drop, as a full network queue would (QUIC recovers it as loss).
            _forwarding.CountQueueFullDrop();
            Interlocked.Increment(ref _forwardFailed);
            return;
        }

        ref Pending entry = ref _pending[(_pendingHead + _pendingCount) % _pending.Length];
        datagram.CopyTo(entry.Buffer);
        entry.Length = datagram.Length;
        entry.Owner = owner;
        entry.Header = header;
        _pendingCount++;
        Interlocked.Increment(ref _deferred);
    }

    private static Pending[] CreatePending()
    {
        var pending = new Pending[PendingCapacity];
        for (int i = 0; i < pending.Length; i++) pending[i].Buffer = new byte[PendingSlotSize];
        return pending;
    }

    /// <summary>Held-back datagrams: enough for a few hundred microseconds of a busy port.</summary>
    internal const int PendingCapacity = 256;

    /// <summary>Larger datagrams (GRO coalescing never reaches the divert: it sees single datagrams) are not held.</summary>
    internal const int PendingSlotSize = 1500 + 100;

    private struct Pending
    {
        public byte[] Buffer;
        public int Length;
        public GenerationId Owner;
        public ForwardedDatagramHeader Header;
    }
}
