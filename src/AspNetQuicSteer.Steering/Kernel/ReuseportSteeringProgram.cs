namespace AspNetQuicSteer.Steering.Kernel;

/// <summary>
/// Builds the classic BPF program the active generation attaches to the shared UDP port with
/// SO_ATTACH_REUSEPORT_CBPF. socket(7): the program "must return an index between 0 and N-1 representing the socket
/// which should receive the packet (where N is the number of sockets in the group). If the BPF program returns an
/// invalid index, socket selection will fall back to the plain SO_REUSEPORT mechanism. Sockets are numbered in the
/// order in which they are added to the group (that is, the order of bind(2) calls for UDP sockets)". The program
/// sees the datagram from the first byte of the UDP payload (net/core/sock_reuseport.c run_bpf_filter pulls the UDP
/// header off before running it; measured in PLATFORM.md), so payload byte 0 is the QUIC first byte.
/// <para>Decision (the same one the managed router makes, so the kernel path only saves a forward):</para>
/// <list type="number">
/// <item>payload shorter than 1 + the short-header CID length → the active socket (too short to carry our CID);</item>
/// <item>byte 0 has 0x80 set (Header Form = 1: long header, RFC 9000 §17.2) → the active socket: new connections go to
/// the newest generation (ARCHITECTURE.md invariant 2);</item>
/// <item>short header (RFC 9000 §17.3.1: the Destination Connection ID starts at byte 1, its length is implicit — the
/// length we issue): generation = payload[1 + Offset], XOR payload[1 + MaskOffset] when masked; a generation in the
/// table → its socket index, any other value → the active socket.</item>
/// </list>
/// The header form bit and the DCID are not header-protected (RFC 9001 §5.4.1 masks only the low 4 (long) or 5
/// (short) bits of byte 0 and the packet number), so they are readable in the kernel.
/// <para>Why the length guard: classic BPF returns 0 from the whole program when a packet load is out of bounds
/// (Documentation/networking/filter.rst; net/core/filter.c's LD_ABS conversion exits with 0). For a reuseport
/// program 0 is not "drop" but "socket index 0" — the <em>oldest</em> socket in join order, usually an old
/// generation. The guard sends truncated datagrams to the active socket instead, and it also covers the byte 0
/// load, so no load in the program can fault.</para>
/// </summary>
internal static class ReuseportSteeringProgram
{
    /// <summary>RFC 9000 §17.2: in QUIC version 1, a connection ID is at most 20 bytes.</summary>
    public const int MaxConnectionIdLength = 20;

    /// <summary>RFC 9000 §17.2 / §17.3.1: Header Form, the most significant bit of byte 0 (1 = long header).</summary>
    public const byte HeaderFormBit = 0x80;

    /// <summary>
    /// The program for a group whose socket indexes are known: <paramref name="socketIndexByGeneration"/> maps each
    /// live generation to the join-order index of (one of) its sockets; <paramref name="activeSocketIndex"/> is the
    /// active generation's socket, the target of long headers, unknown generations and truncated datagrams.
    /// Entries whose index equals the active index are folded into the fall-through (same result, shorter program).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The field does not fit the CID, the CID length is not 1..20, or an index is negative.</exception>
    public static ClassicBpfInstruction[] Build(
        SteeringField field, int shortHeaderCidLength, int activeSocketIndex, IReadOnlyDictionary<GenerationId, int> socketIndexByGeneration)
    {
        ArgumentNullException.ThrowIfNull(socketIndexByGeneration);
        ArgumentOutOfRangeException.ThrowIfLessThan(shortHeaderCidLength, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(shortHeaderCidLength, MaxConnectionIdLength);
        if (field.Offset < 0 || field.Offset >= shortHeaderCidLength)
            throw new ArgumentOutOfRangeException(nameof(field), field, $"The generation byte must lie inside the {shortHeaderCidLength}-byte CID.");
        if (field.IsMasked && (field.MaskOffset >= shortHeaderCidLength || field.MaskOffset == field.Offset))
            throw new ArgumentOutOfRangeException(nameof(field), field, $"The mask byte must lie inside the {shortHeaderCidLength}-byte CID and differ from the generation byte.");
        ArgumentOutOfRangeException.ThrowIfNegative(activeSocketIndex);
        foreach (var (generation, index) in socketIndexByGeneration)
        {
            if (index < 0)
                throw new ArgumentOutOfRangeException(nameof(socketIndexByGeneration), index, $"{generation} has a negative socket index.");
        }

        var asm = new ClassicBpfAssembler();
        var longEnough = asm.DefineLabel();
        var shortHeader = asm.DefineLabel();

        // Guard: the DCID occupies payload bytes 1..cidLength (RFC 9000 §17.3.1) and a protected short header carries
        // at least 20 more bytes (RFC 9001 §5.4.2), the same minimum the managed router applies
        // (SteeringTable.ShortHeaderMinimumLength). Shorter → active (whose router drops it); this also keeps every
        // load below in bounds (see class remarks).
        asm.LoadLength();
        asm.JumpIfGreater((uint)(shortHeaderCidLength + Routing.SteeringTable.HeaderProtectionAllowance), longEnough);
        asm.Return((uint)activeSocketIndex);

        // Header form (RFC 9000 §17.2): long headers — Initial, 0-RTT, Handshake, Retry — go to the active generation.
        asm.Mark(longEnough);
        asm.LoadAbsoluteByte(0);
        asm.JumpIfAnySet(HeaderFormBit, whenTrue: null, whenFalse: shortHeader);
        asm.Return((uint)activeSocketIndex);

        // Short header: A = the generation byte (SteeringField: payload byte 1 + Offset, XOR payload byte 1 + MaskOffset).
        asm.Mark(shortHeader);
        if (field.IsMasked)
        {
            asm.LoadAbsoluteByte(1 + (uint)field.MaskOffset);
            asm.TransferAToX();
        }

        asm.LoadAbsoluteByte(1 + (uint)field.Offset);
        if (field.IsMasked) asm.XorX();

        // The lookup: one "jeq #gen; ret #index" pair per non-active entry, so every jump skips at most one instruction
        // whatever the table size (jt/jf are 8-bit), and 256 generations stay far below BPF_MAXINSNS.
        foreach (var (generation, index) in socketIndexByGeneration.OrderBy(entry => entry.Key.Value))
        {
            if (index == activeSocketIndex) continue;
            var next = asm.DefineLabel();
            asm.JumpIfEqual(generation.Value, whenTrue: null, whenFalse: next);
            asm.Return((uint)index);
            asm.Mark(next);
        }

        // Unknown generation (retired, or a CID we never issued): the active generation answers or forwards it.
        asm.Return((uint)activeSocketIndex);
        return asm.Assemble();
    }

    /// <summary>
    /// Rebuild after a membership change: <paramref name="joinOrder"/> is the owner of every socket in the group in
    /// the kernel's current order (see <see cref="ReuseportJoinOrder{TMember}"/>, which applies socket(7)'s
    /// "the last socket in the group will be moved into the closed socket's position" on every close). Each
    /// generation is steered to its first socket in that order.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="activeGeneration"/> owns no socket in the group.</exception>
    public static ClassicBpfInstruction[] BuildForJoinOrder(
        SteeringField field, int shortHeaderCidLength, GenerationId activeGeneration, IReadOnlyList<GenerationId> joinOrder)
    {
        var indexes = SocketIndexesFromJoinOrder(joinOrder);
        if (!indexes.TryGetValue(activeGeneration, out int activeIndex))
            throw new ArgumentException($"The active generation {activeGeneration} has no socket in the reuseport group.", nameof(activeGeneration));
        return Build(field, shortHeaderCidLength, activeIndex, indexes);
    }

    /// <summary>Generation → index of its first socket in <paramref name="joinOrder"/>.</summary>
    public static Dictionary<GenerationId, int> SocketIndexesFromJoinOrder(IReadOnlyList<GenerationId> joinOrder)
    {
        ArgumentNullException.ThrowIfNull(joinOrder);
        var indexes = new Dictionary<GenerationId, int>();
        for (int i = 0; i < joinOrder.Count; i++) indexes.TryAdd(joinOrder[i], i);
        return indexes;
    }
}
