namespace AspNetQuicSteer.Steering.Membership;

/// <summary>
/// How the datagrams of a shared port reach the generation that owns them (ARCHITECTURE.md §6). The first
/// generation on a port picks the mode; every later one adopts it (<see cref="PortGroupDescription"/>).
/// Forwarding is on in every mode: it is the correctness path whenever the kernel delivers a datagram elsewhere.
/// </summary>
internal enum SteeringDataplaneMode : byte
{
    /// <summary>Adopt the port's mode; the first generation picks eBPF when privileged, else classic BPF.</summary>
    Automatic = 0,

    /// <summary>SO_REUSEPORT group + a classic BPF program (SO_ATTACH_REUSEPORT_CBPF); unprivileged.</summary>
    ReuseportCbpf = 1,

    /// <summary>SO_REUSEPORT group + an SK_REUSEPORT eBPF program and a socket map keyed by generation; root or CAP_BPF.</summary>
    ReuseportEbpf = 2,

    /// <summary>
    /// No SO_REUSEPORT: one UDP socket, passed to every generation with SCM_RIGHTS (handoff). The kernel hands each
    /// datagram to whichever generation reads first, and forwarding takes it to its owner.
    /// </summary>
    Forwarding = 3,
}

internal static class SteeringDataplaneModeNames
{
    /// <summary>The names used in logs, errors and docs (ARCHITECTURE.md §6).</summary>
    public static string ToDisplayName(this SteeringDataplaneMode mode) => mode switch
    {
        SteeringDataplaneMode.Automatic => "automatic",
        SteeringDataplaneMode.ReuseportCbpf => "reuseport-cbpf",
        SteeringDataplaneMode.ReuseportEbpf => "reuseport-ebpf",
        SteeringDataplaneMode.Forwarding => "forwarding",
        _ => $"mode {(byte)mode}",
    };
}
