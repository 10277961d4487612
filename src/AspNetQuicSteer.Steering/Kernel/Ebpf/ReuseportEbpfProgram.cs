using static AspNetQuicSteer.Steering.Kernel.Ebpf.EbpfCodes;

namespace AspNetQuicSteer.Steering.Kernel.Ebpf;

/// <summary>
/// The SK_REUSEPORT program of the reuseport-ebpf dataplane, emitted from C# (no clang at run time). Unlike the classic
/// program, it names sockets through maps, not through join-order indexes, so it never has to be rebuilt:
/// <list type="bullet">
/// <item><b>sockets</b> — a BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, key u32 = the generation byte (0..255), value = that
/// generation's socket (written as an fd, read back as the socket cookie);</item>
/// <item><b>active</b> — a BPF_MAP_TYPE_ARRAY with one u32 element (key 0): the active generation. Switching the
/// active generation is one update of this element. (A reserved slot of the socket array cannot serve: a socket can
/// occupy only one REUSEPORT_SOCKARRAY slot — kernel/bpf/reuseport_array.c refuses a second with EBUSY — and the
/// active generation's socket already sits in its own generation's slot.)</item>
/// </list>
/// <para>Decision, the same the managed router and the classic program make (ReuseportSteeringProgram):</para>
/// <list type="number">
/// <item>UDP payload shorter than 1 + CID length + 20 (RFC 9001 §5.4.2, <see cref="Routing.SteeringTable.HeaderProtectionAllowance"/>)
/// → active. The length is <c>ctx-&gt;len - 8</c> (struct sk_reuseport_md.len counts from the UDP header).</item>
/// <item>Header Form bit (byte 0 &amp; 0x80, RFC 9000 §17.2) set → active (new connections go to the newest generation).</item>
/// <item>Short header: key = payload[1 + Offset] (XOR payload[1 + MaskOffset] when masked) →
/// <c>bpf_sk_select_reuseport(ctx, sockets, &amp;key, 0)</c>; when that fails (no socket in the slot: ENOENT) → active.</item>
/// <item>Active: key = active[0] → <c>bpf_sk_select_reuseport</c>; if that fails too (the active slot is empty), nothing
/// is selected and the kernel falls back to its SO_REUSEPORT hash (net/core/sock_reuseport.c reuseport_select_sock:
/// SK_PASS with no selected socket → select_by_hash). The program always returns SK_PASS: SK_DROP would drop the datagram.</item>
/// </list>
/// <para>Packet bytes are read with <c>bpf_skb_load_bytes</c>, not direct packet access: struct sk_reuseport_md in
/// bpf.h warns that "the directly accessible bytes (data_end - data) could be less than this len. Those bytes could be
/// indirectly read by a helper bpf_skb_load_bytes()". With a NIC driver that puts only the headers into the linear
/// part of the skb, a data/data_end bounds check would fail for every datagram and steer everything to the active
/// generation; the helper reads paged data too. Its offset is relative to the UDP header (skb-&gt;data during the
/// socket lookup; PLATFORM.md measured payload at offset 8).</para>
/// <para>None of the helpers is GPL-only (net/core/filter.c: sk_select_reuseport_proto, sk_reuseport_load_bytes_proto
/// and bpf_map_lookup_elem_proto have .gpl_only = false), so the license string only labels the program.</para>
/// </summary>
internal static class ReuseportEbpfProgram
{
    /// <summary>Generations are one byte, so the socket map has 256 slots.</summary>
    public const uint SocketMapEntries = 256;

    /// <summary>The license passed to BPF_PROG_LOAD (GPL-compatible per include/linux/license.h, though no helper used needs it).</summary>
    public const string License = "Dual MIT/GPL";

    /// <summary>Program name (bpftool prog show).</summary>
    public const string ProgramName = "quicsteer_sel";

    /// <summary>struct sk_reuseport_md: offsetof(len) (bpf.h; data and data_end are 8-byte __bpf_md_ptr fields before it).</summary>
    public const short ContextLengthOffset = 16;

    /// <summary>sizeof(struct udphdr): ctx data, len and bpf_skb_load_bytes offsets count from the UDP header.</summary>
    public const int UdpHeaderLength = 8;

    /// <summary>Stack slot of the u32 map key (fp - 8).</summary>
    public const short KeySlot = -8;

    /// <summary>Stack buffer for the payload prefix (fp - 32 .. fp - 9: up to 24 bytes; we need at most 2 + 19).</summary>
    public const short BufferSlot = -32;

    /// <summary>The payload prefix the program reads: bytes 0 .. 1 + max(Offset, MaskOffset) (first byte + DCID up to the field).</summary>
    public static int PrefixLength(SteeringField field) => 2 + Math.Max(field.Offset, field.MaskOffset);

    /// <summary>
    /// The program's instructions for maps with the given fds (the fds are embedded in ld_imm64 instructions and
    /// resolved by the kernel at load). Pure: tests list and interpret it without a kernel.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The field does not fit the CID or the CID length is not 1..20.</exception>
    public static EbpfInstruction[] Build(SteeringField field, int shortHeaderCidLength, int socketMapFd, int activeMapFd)
    {
        ValidateField(field, shortHeaderCidLength);
        int minimumLength = UdpHeaderLength + 1 + shortHeaderCidLength + Routing.SteeringTable.HeaderProtectionAllowance;
        int prefix = PrefixLength(field);

        var asm = new EbpfAssembler();
        var active = asm.DefineLabel();
        var pass = asm.DefineLabel();

        // r6 = ctx: r1..r5 do not survive helper calls, r6..r9 do.
        asm.MoveRegister(R6, R1);

        // Length guard on the whole datagram (ctx->len = UDP header + payload, paged data included).
        asm.LoadMemory(BPF_W, R2, R6, ContextLengthOffset);
        asm.JumpIfLessThan(R2, minimumLength, active);

        // bpf_skb_load_bytes(ctx, 8, fp + BufferSlot, prefix): payload bytes 0 .. prefix - 1 onto the stack.
        asm.MoveRegister(R1, R6);
        asm.MoveImmediate(R2, UdpHeaderLength);
        asm.MoveRegister(R3, R10);
        asm.AddImmediate(R3, BufferSlot);
        asm.MoveImmediate(R4, prefix);
        asm.Call(BPF_FUNC_skb_load_bytes);
        asm.JumpIfNotEqual(R0, 0, active);

        // Header form: long header → active.
        asm.LoadMemory(BPF_B, R2, R10, BufferSlot);
        asm.JumpIfAnySet(R2, ReuseportSteeringProgram.HeaderFormBit, active);

        // Short header: key = generation byte (DCID starts at payload byte 1, RFC 9000 §17.3.1).
        asm.LoadMemory(BPF_B, R2, R10, (short)(BufferSlot + 1 + field.Offset));
        if (field.IsMasked)
        {
            asm.LoadMemory(BPF_B, R3, R10, (short)(BufferSlot + 1 + field.MaskOffset));
            asm.XorRegister(R2, R3);
        }

        asm.StoreRegister(BPF_W, R10, KeySlot, R2);
        EmitSelect(asm, socketMapFd);
        asm.JumpIfEqual(R0, 0, pass);

        // Active: key = active[0]; select it. Failure leaves nothing selected → the kernel's hash.
        asm.Mark(active);
        asm.StoreImmediate(BPF_W, R10, KeySlot, 0);
        asm.LoadMapFd(R1, activeMapFd);
        asm.MoveRegister(R2, R10);
        asm.AddImmediate(R2, KeySlot);
        asm.Call(BPF_FUNC_map_lookup_elem);
        asm.JumpIfEqual(R0, 0, pass); // never NULL for key 0 of a 1-entry array, but the verifier insists on the check
        asm.LoadMemory(BPF_W, R2, R0, 0);
        asm.StoreRegister(BPF_W, R10, KeySlot, R2);
        EmitSelect(asm, socketMapFd);

        asm.Mark(pass);
        asm.MoveImmediate(R0, SK_PASS);
        asm.Exit();
        return asm.Assemble();
    }

    /// <summary>
    /// Builds and loads the program (BPF_PROG_TYPE_SK_REUSEPORT). expected_attach_type is left 0: since Linux 5.14
    /// kernel/bpf/syscall.c bpf_prog_load_fixup_attach_type turns 0 into BPF_SK_REUSEPORT_SELECT, and 4.19..5.13
    /// (before SELECT_OR_MIGRATE existed) expect 0. The maps must stay open during the call; the program keeps them
    /// alive afterwards.
    /// </summary>
    /// <exception cref="BpfException">EPERM without root/CAP_BPF; EACCES/EINVAL with the verifier log if refused.</exception>
    public static BpfFileDescriptor Load(SteeringField field, int shortHeaderCidLength, BpfFileDescriptor socketMap, BpfFileDescriptor activeMap)
    {
        ArgumentNullException.ThrowIfNull(socketMap);
        ArgumentNullException.ThrowIfNull(activeMap);
        bool socketAdded = false, activeAdded = false;
        try
        {
            socketMap.DangerousAddRef(ref socketAdded);
            activeMap.DangerousAddRef(ref activeAdded);
            var program = Build(field, shortHeaderCidLength, socketMap.Fd, activeMap.Fd);
            return BpfSyscall.LoadProgram(
                BpfSyscall.BPF_PROG_TYPE_SK_REUSEPORT, expectedAttachType: 0, program, License, ProgramName);
        }
        finally
        {
            if (activeAdded) activeMap.DangerousRelease();
            if (socketAdded) socketMap.DangerousRelease();
        }
    }

    /// <summary>The same field/CID-length rules as the classic program (the field must lie inside the short-header DCID).</summary>
    public static void ValidateField(SteeringField field, int shortHeaderCidLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shortHeaderCidLength, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(shortHeaderCidLength, ReuseportSteeringProgram.MaxConnectionIdLength);
        if (field.Offset < 0 || field.Offset >= shortHeaderCidLength)
            throw new ArgumentOutOfRangeException(nameof(field), field, $"The generation byte must lie inside the {shortHeaderCidLength}-byte CID.");
        if (field.IsMasked && (field.MaskOffset >= shortHeaderCidLength || field.MaskOffset == field.Offset))
            throw new ArgumentOutOfRangeException(nameof(field), field, $"The mask byte must lie inside the {shortHeaderCidLength}-byte CID and differ from the generation byte.");
    }

    // bpf_sk_select_reuseport(ctx = r6, map = sockets, key = fp + KeySlot, flags = 0) → r0 (0 or -errno).
    private static void EmitSelect(EbpfAssembler asm, int socketMapFd)
    {
        asm.MoveRegister(R1, R6);
        asm.LoadMapFd(R2, socketMapFd);
        asm.MoveRegister(R3, R10);
        asm.AddImmediate(R3, KeySlot);
        asm.MoveImmediate(R4, 0);
        asm.Call(BPF_FUNC_sk_select_reuseport);
    }
}
