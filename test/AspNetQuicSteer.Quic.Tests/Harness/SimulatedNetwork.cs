using System.Net;
using AspNetQuicSteer.Quic.Endpoint;

namespace AspNetQuicSteer.Quic.Tests.Harness;

/// <summary>Link behaviour applied to every datagram (RFC-agnostic network impairments).</summary>
internal sealed record LinkOptions
{
    public TimeSpan Latency { get; init; } = TimeSpan.FromMilliseconds(10);

    public TimeSpan Jitter { get; init; } = TimeSpan.Zero;

    public double LossRate { get; init; }

    public double DuplicateRate { get; init; }

    /// <summary>Largest datagram the link carries; larger ones are dropped (no fragmentation in QUIC, RFC 9000 §14).</summary>
    public int Mtu { get; init; } = 1500;
}

/// <summary>A datagram in flight, visible to <see cref="SimulatedNetwork.Filter"/>.</summary>
internal sealed record SimulatedDatagram(EndPoint From, EndPoint To, byte[] Data);

/// <summary>
/// Two or more sans-IO endpoints on a simulated network with a virtual clock (the quinn "Pair" model).
/// Deterministic for a given seed. No sockets, no real time.
/// </summary>
internal sealed class SimulatedNetwork : IDisposable
{
    private readonly Dictionary<EndPoint, QuicEndpoint> _nodes = new();
    private readonly PriorityQueue<SimulatedDatagram, (TimeSpan Due, long Sequence)> _inFlight = new();
    private readonly Random _random;
    private readonly byte[] _buffer = new byte[65536];
    private long _sequence;

    public SimulatedNetwork(LinkOptions? link = null, int seed = 1)
    {
        Link = link ?? new LinkOptions();
        _random = new Random(seed);
    }

    public LinkOptions Link { get; set; }

    public TimeSpan Now { get; private set; } = TimeSpan.FromSeconds(1);

    /// <summary>Maps each sent datagram to what the link carries: none (drop), itself, rewritten or split copies.</summary>
    public Func<SimulatedDatagram, IEnumerable<SimulatedDatagram>>? Filter { get; set; }

    /// <summary>Application work run before every step (reading and writing streams), like an event loop's callbacks.</summary>
    public Action? BeforeStep { get; set; }

    public long DatagramsDelivered { get; private set; }

    public long DatagramsDropped { get; private set; }

    public QuicEndpoint Add(EndPoint address, QuicEndpoint endpoint)
    {
        _nodes.Add(address, endpoint);
        return endpoint;
    }

    /// <summary>Moves an endpoint to a new address (NAT rebinding or a client changing networks); datagrams in flight
    /// to the old address are lost.</summary>
    public void Rebind(EndPoint from, EndPoint to)
    {
        QuicEndpoint node = _nodes[from];
        _nodes.Remove(from);
        _nodes.Add(to, node);
    }

    /// <summary>Replaces the endpoint at an address (a process restarting on the same port) and returns the old one.</summary>
    public QuicEndpoint Replace(EndPoint address, QuicEndpoint endpoint)
    {
        QuicEndpoint old = _nodes[address];
        _nodes[address] = endpoint;
        return old;
    }

    public static IPEndPoint Address(int host, int port = 443) => new(new IPAddress([10, 0, 0, (byte)host]), port);

    /// <summary>Runs the simulation until <paramref name="condition"/> holds or the virtual time budget is spent.</summary>
    public bool RunUntil(Func<bool> condition, TimeSpan budget)
    {
        TimeSpan end = Now + budget;
        int stalledIterations = 0;
        while (true)
        {
            BeforeStep?.Invoke();
            FlushTransmits();
            if (condition()) return true;

            TimeSpan? next = NextEventTime();
            if (next is null || next.Value > end)
            {
                Now = end;
                return condition();
            }

            // A timer that is due but never makes progress would spin forever; fail loudly instead.
            stalledIterations = next.Value > Now ? 0 : stalledIterations + 1;
            if (stalledIterations > 10_000)
            {
                throw new InvalidOperationException($"Livelock at t={Now}: a timer stays due without progress.");
            }

            if (next.Value > Now) Now = next.Value;
            DeliverDue();
            foreach (QuicEndpoint node in _nodes.Values)
            {
                if (node.NextTimeout(Now) is { } t && t <= Now) node.HandleTimeout(Now);
            }
        }
    }

    /// <summary>Advances virtual time by <paramref name="duration"/>, processing everything on the way.</summary>
    public void RunFor(TimeSpan duration) => RunUntil(static () => false, duration);

    private void FlushTransmits()
    {
        foreach ((EndPoint address, QuicEndpoint node) in _nodes)
        {
            int guard = 0;
            while (node.TryPollTransmit(Now, _buffer, out int length, out EndPoint? remote) && remote is not null)
            {
                if (++guard > 10_000) throw new InvalidOperationException("Endpoint produced an unbounded burst of datagrams.");
                Send(new SimulatedDatagram(address, remote, _buffer.AsSpan(0, length).ToArray()));
            }
        }
    }

    private void Send(SimulatedDatagram datagram)
    {
        IEnumerable<SimulatedDatagram> outgoing = Filter is null ? [datagram] : Filter(datagram);
        foreach (SimulatedDatagram d in outgoing)
        {
            if (d.Data.Length > Link.Mtu || _random.NextDouble() < Link.LossRate)
            {
                DatagramsDropped++;
                continue;
            }

            Enqueue(d);
            if (_random.NextDouble() < Link.DuplicateRate) Enqueue(d with { Data = (byte[])d.Data.Clone() });
        }
    }

    private void Enqueue(SimulatedDatagram datagram)
    {
        TimeSpan jitter = Link.Jitter > TimeSpan.Zero ? Link.Jitter * _random.NextDouble() : TimeSpan.Zero;
        _inFlight.Enqueue(datagram, (Now + Link.Latency + jitter, _sequence++));
    }

    private TimeSpan? NextEventTime()
    {
        TimeSpan? next = _inFlight.TryPeek(out _, out (TimeSpan Due, long) due) ? due.Due : null;
        foreach (QuicEndpoint node in _nodes.Values)
        {
            if (node.NextTimeout(Now) is { } t && (next is null || t < next)) next = t;
        }

        return next;
    }

    private void DeliverDue()
    {
        while (_inFlight.TryPeek(out SimulatedDatagram? datagram, out (TimeSpan Due, long) due) && due.Due <= Now)
        {
            _inFlight.Dequeue();
            if (_nodes.TryGetValue(datagram.To, out QuicEndpoint? node))
            {
                DatagramsDelivered++;
                node.HandleDatagram(Now, datagram.From, datagram.Data);
            }
            else
            {
                DatagramsDropped++;
            }
        }
    }

    public void Dispose()
    {
        foreach (QuicEndpoint node in _nodes.Values) node.Dispose();
    }
}
