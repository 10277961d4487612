namespace AspNetQuicSteer.Steering.Kernel;

/// <summary>
/// A model of the kernel's socket array for one reuseport group (struct sock_reuseport.socks[] in
/// include/net/sock_reuseport.h), which is what a classic reuseport program's return value indexes:
/// <list type="bullet">
/// <item>a socket that binds (UDP) is appended: socket(7) "Sockets are numbered in the order in which they are added
/// to the group (that is, the order of bind(2) calls for UDP sockets …)";</item>
/// <item>a socket that closes is replaced by the last one: socket(7) "When a socket is removed from a reuseport group
/// (via close(2)), the last socket in the group will be moved into the closed socket's position"
/// (net/core/sock_reuseport.c __reuseport_detach_sock).</item>
/// </list>
/// The kernel offers no way to read this order back, so whoever rebuilds the program (the active generation's
/// coordinator) keeps this model in step with every bind and close it learns of, then calls
/// <see cref="ReuseportSteeringProgram.BuildForJoinOrder"/> with <see cref="Members"/>.
/// </summary>
internal sealed class ReuseportJoinOrder<TMember>
{
    private readonly List<TMember> _members = [];

    public IReadOnlyList<TMember> Members => _members;

    public int Count => _members.Count;

    /// <summary>A socket bound into the group; returns its index.</summary>
    public int Join(TMember member)
    {
        _members.Add(member);
        return _members.Count - 1;
    }

    /// <summary>
    /// The socket at <paramref name="index"/> closed; the last socket moves into its slot. Returns the index the
    /// moved socket had before (equal to <paramref name="index"/> when the closed socket was the last one).
    /// </summary>
    public int Leave(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _members.Count);
        int last = _members.Count - 1;
        _members[index] = _members[last];
        _members.RemoveAt(last);
        return last;
    }

    /// <summary>The index of the first socket owned by <paramref name="member"/>, or -1.</summary>
    public int IndexOf(TMember member) => _members.IndexOf(member);
}
