using System.Net;
using System.Net.Sockets;

namespace AspNetQuicSteer.Steering.Kernel;

/// <summary>
/// The sockets this process holds in one reuseport group, kept in the kernel's order: <see cref="Sockets"/>[i] is
/// the socket a program's "return i" selects, as long as no other process holds sockets in the same group (with
/// several processes, each generation's coordinator tracks the shared order with
/// <see cref="ReuseportJoinOrder{TMember}"/> instead). Used by tests and by a generation that owns several sockets.
/// </summary>
internal sealed class ReuseportGroup : IDisposable
{
    private readonly ReuseportJoinOrder<Socket> _order = new();

    private ReuseportGroup(IPEndPoint localEndPoint) => LocalEndPoint = localEndPoint;

    /// <summary>The group's address and port (the port the kernel chose when bound with port 0).</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>The open sockets in the kernel's join order.</summary>
    public IReadOnlyList<Socket> Sockets => _order.Members;

    /// <summary>Binds <paramref name="count"/> SO_REUSEPORT sockets to <paramref name="endpoint"/> (port 0: a free port), index 0 first.</summary>
    public static ReuseportGroup Bind(IPEndPoint endpoint, int count)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var first = ReuseportSocket.Bind(endpoint);
        var group = new ReuseportGroup((IPEndPoint)first.LocalEndPoint!);
        group._order.Join(first);
        try
        {
            for (int i = 1; i < count; i++) group.Join();
        }
        catch
        {
            group.Dispose();
            throw;
        }

        return group;
    }

    /// <summary>Binds one more socket; it takes the next index.</summary>
    public Socket Join()
    {
        var socket = ReuseportSocket.Bind(LocalEndPoint);
        _order.Join(socket);
        return socket;
    }

    /// <summary>Closes the socket at <paramref name="index"/>; the kernel moves the last socket into its slot, and so does this list.</summary>
    public void Close(int index)
    {
        var socket = _order.Members[index];
        _order.Leave(index);
        socket.Dispose();
    }

    /// <summary>Attaches the program to the group through its first socket (any member would do).</summary>
    public void Attach(ReadOnlySpan<ClassicBpfInstruction> program) => ReuseportSocket.AttachCbpf(_order.Members[0], program);

    /// <summary>Removes the group's program (selection falls back to the kernel's hash).</summary>
    public void Detach() => ReuseportSocket.Detach(_order.Members[0]);

    public void Dispose()
    {
        foreach (var socket in _order.Members) socket.Dispose();
        while (_order.Count > 0) _order.Leave(_order.Count - 1);
    }
}
