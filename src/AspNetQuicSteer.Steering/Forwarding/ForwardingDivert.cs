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
        if (_forwarding.TrySend(decision.Generation, datagram, remote, local)) Interlocked.Increment(ref _forwarded);
        else Interlocked.Increment(ref _forwardFailed);
        return true;
    }
}
