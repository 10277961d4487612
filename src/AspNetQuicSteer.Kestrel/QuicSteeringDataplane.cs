namespace AspNetQuicSteer.Kestrel;

/// <summary>How the generations sharing a UDP port get their datagrams (ARCHITECTURE.md §6). Forwarding between generations is always on.</summary>
public enum QuicSteeringDataplane
{
    /// <summary>Adopt the port's dataplane; the first generation picks <see cref="ReuseportEbpf"/> when it may load eBPF, else <see cref="ReuseportCbpf"/>.</summary>
    Automatic = 0,

    /// <summary>SO_REUSEPORT and a classic BPF program the active generation attaches; needs no privilege.</summary>
    ReuseportCbpf = 1,

    /// <summary>SO_REUSEPORT and an eBPF program with a socket map keyed by generation; needs root or CAP_BPF.</summary>
    ReuseportEbpf = 2,

    /// <summary>One socket handed to every generation (SCM_RIGHTS); whoever reads a datagram forwards it to its owner. For kernels without reuseport programs.</summary>
    Forwarding = 3,

    /// <summary>No port sharing: the listener binds the port alone (a second process gets "address in use").</summary>
    Disabled = 4,
}
