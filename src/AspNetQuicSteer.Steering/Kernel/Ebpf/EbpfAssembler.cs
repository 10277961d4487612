using static AspNetQuicSteer.Steering.Kernel.Ebpf.EbpfCodes;

namespace AspNetQuicSteer.Steering.Kernel.Ebpf;

/// <summary>
/// A minimal eBPF assembler: the 64-bit moves and ALU operations, memory loads and stores, 64-bit map-fd loads,
/// conditional jumps, helper calls and exit that the SK_REUSEPORT steering program needs — nothing else — with labels
/// resolved to the signed 16-bit relative offsets of struct bpf_insn (a jump continues at pc + 1 + off;
/// Documentation/bpf/standardization/instruction-set.rst). The kernel verifier checks everything that matters for
/// safety at load time; this assembler only refuses what can never load (unmarked or out-of-range labels, a jump into
/// the second half of ld_imm64, a program that can fall off its end).
/// <para>Building a program is rare (once per dataplane), so this allocates freely.</para>
/// </summary>
internal sealed class EbpfAssembler
{
    private readonly List<EbpfInstruction> _instructions = [];
    private readonly List<int> _labelPositions = [];
    private readonly List<(int Pc, Label Target)> _pendingJumps = [];
    private readonly HashSet<int> _secondHalves = [];

    /// <summary>A jump target; <see cref="Mark"/> places it before the next instruction emitted.</summary>
    internal readonly record struct Label(int Id);

    /// <summary>Instructions emitted so far (ld_imm64 counts as two, as in the kernel).</summary>
    public int Count => _instructions.Count;

    public Label DefineLabel()
    {
        _labelPositions.Add(-1);
        return new Label(_labelPositions.Count - 1);
    }

    /// <summary>The label now refers to the next instruction emitted.</summary>
    public void Mark(Label label)
    {
        if (_labelPositions[label.Id] >= 0) throw new InvalidOperationException($"Label {label.Id} is already marked.");
        _labelPositions[label.Id] = _instructions.Count;
    }

    // ---- 64-bit ALU (BPF_ALU64) -------------------------------------------------------------------------------

    /// <summary><c>dst = imm</c> (BPF_ALU64|BPF_MOV|BPF_K; imm is sign-extended to 64 bits).</summary>
    public void MoveImmediate(int destination, int value) => Emit(BPF_ALU64 | BPF_MOV | BPF_K, destination, 0, 0, value);

    /// <summary><c>dst = src</c> (BPF_ALU64|BPF_MOV|BPF_X).</summary>
    public void MoveRegister(int destination, int source) => Emit(BPF_ALU64 | BPF_MOV | BPF_X, destination, source, 0, 0);

    /// <summary><c>dst += imm</c> (BPF_ALU64|BPF_ADD|BPF_K).</summary>
    public void AddImmediate(int destination, int value) => Emit(BPF_ALU64 | BPF_ADD | BPF_K, destination, 0, 0, value);

    /// <summary><c>dst &amp;= imm</c> (BPF_ALU64|BPF_AND|BPF_K).</summary>
    public void AndImmediate(int destination, int value) => Emit(BPF_ALU64 | BPF_AND | BPF_K, destination, 0, 0, value);

    /// <summary><c>dst ^= src</c> (BPF_ALU64|BPF_XOR|BPF_X).</summary>
    public void XorRegister(int destination, int source) => Emit(BPF_ALU64 | BPF_XOR | BPF_X, destination, source, 0, 0);

    // ---- 64-bit immediate load -------------------------------------------------------------------------------

    /// <summary>
    /// <c>dst = map</c>: the two-slot ld_imm64 (BPF_LD|BPF_DW|BPF_IMM) with src_reg = BPF_PSEUDO_MAP_FD and imm = the
    /// map's fd; the verifier rewrites it to the map's kernel address (type CONST_PTR_TO_MAP), the only way a program
    /// names a map (bpf.h, "When BPF ldimm64's insn[0].src_reg != 0"). The second slot is all zero.
    /// </summary>
    public void LoadMapFd(int destination, int mapFd)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(mapFd);
        Emit(BPF_LD | BPF_DW | BPF_IMM, destination, BPF_PSEUDO_MAP_FD, 0, mapFd);
        _secondHalves.Add(_instructions.Count);
        _instructions.Add(default);
    }

    // ---- memory ----------------------------------------------------------------------------------------------

    /// <summary><c>dst = *(size *)(src + off)</c> (BPF_LDX|BPF_MEM|size), zero-extended.</summary>
    public void LoadMemory(byte size, int destination, int source, short offset) =>
        Emit((byte)(BPF_LDX | BPF_MEM | CheckSize(size)), destination, source, offset, 0);

    /// <summary><c>*(size *)(dst + off) = src</c> (BPF_STX|BPF_MEM|size).</summary>
    public void StoreRegister(byte size, int destination, short offset, int source) =>
        Emit((byte)(BPF_STX | BPF_MEM | CheckSize(size)), destination, source, offset, 0);

    /// <summary><c>*(size *)(dst + off) = imm</c> (BPF_ST|BPF_MEM|size).</summary>
    public void StoreImmediate(byte size, int destination, short offset, int value) =>
        Emit((byte)(BPF_ST | BPF_MEM | CheckSize(size)), destination, 0, offset, value);

    // ---- jumps (64-bit compares, BPF_JMP class) ---------------------------------------------------------------

    /// <summary><c>goto label</c> (BPF_JMP|BPF_JA).</summary>
    public void Jump(Label target) => EmitJump(BPF_JMP | BPF_JA, 0, 0, target);

    /// <summary><c>if dst == imm goto label</c>.</summary>
    public void JumpIfEqual(int register, int value, Label target) => EmitJump(BPF_JMP | BPF_JEQ | BPF_K, register, value, target);

    /// <summary><c>if dst != imm goto label</c>.</summary>
    public void JumpIfNotEqual(int register, int value, Label target) => EmitJump(BPF_JMP | BPF_JNE | BPF_K, register, value, target);

    /// <summary><c>if dst &lt; imm goto label</c>, unsigned (BPF_JLT; imm sign-extended to 64 bits first).</summary>
    public void JumpIfLessThan(int register, int value, Label target) => EmitJump(BPF_JMP | BPF_JLT | BPF_K, register, value, target);

    /// <summary><c>if dst &amp; imm goto label</c> (BPF_JSET).</summary>
    public void JumpIfAnySet(int register, int mask, Label target) => EmitJump(BPF_JMP | BPF_JSET | BPF_K, register, mask, target);

    // ---- calls -----------------------------------------------------------------------------------------------

    /// <summary><c>call helper</c> (BPF_JMP|BPF_CALL, imm = enum bpf_func_id): arguments in r1..r5, result in r0, r1..r5 clobbered.</summary>
    public void Call(int helper) => Emit(BPF_JMP | BPF_CALL, 0, 0, 0, helper);

    /// <summary><c>exit</c> (BPF_JMP|BPF_EXIT): return r0.</summary>
    public void Exit() => Emit(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);

    /// <summary>Resolves labels; refuses programs that can never load (see the class remarks).</summary>
    public EbpfInstruction[] Assemble()
    {
        if (_instructions.Count == 0) throw new InvalidOperationException("An eBPF program needs at least one instruction.");
        if (_instructions.Count > MaxInstructions)
            throw new InvalidOperationException($"The program has {_instructions.Count} instructions; this assembler stays within BPF_MAXINSNS ({MaxInstructions}).");
        var last = _instructions[^1];
        bool endsInExitOrJump = !_secondHalves.Contains(_instructions.Count - 1)
            && (last.Code == (BPF_JMP | BPF_EXIT) || last.Code == (BPF_JMP | BPF_JA));
        if (!endsInExitOrJump)
            throw new InvalidOperationException("The last instruction must be exit or goto: the verifier rejects a program that can fall off its end.");

        var program = _instructions.ToArray();
        foreach (var (pc, target) in _pendingJumps)
        {
            int position = _labelPositions[target.Id];
            if (position < 0) throw new InvalidOperationException($"Label {target.Id} is used by the jump at {pc} but never marked.");
            if (position >= program.Length) throw new InvalidOperationException($"Label {target.Id} (jump at {pc}) is marked after the last instruction.");
            if (_secondHalves.Contains(position))
                throw new InvalidOperationException($"Label {target.Id} (jump at {pc}) points into the middle of an ld_imm64 instruction.");
            int offset = position - (pc + 1);
            if (offset is < short.MinValue or > short.MaxValue)
                throw new InvalidOperationException($"The jump at {pc} spans {offset} instructions; bpf_insn.off is 16-bit.");
            program[pc] = program[pc].WithOffset((short)offset);
        }

        return program;
    }

    private static byte CheckSize(byte size) =>
        size is BPF_B or BPF_H or BPF_W or BPF_DW ? size : throw new ArgumentOutOfRangeException(nameof(size), size, "BPF_B, BPF_H, BPF_W or BPF_DW.");

    private void Emit(int code, int destination, int source, short offset, int immediate) =>
        _instructions.Add(new EbpfInstruction((byte)code, destination, source, offset, immediate));

    private void EmitJump(int code, int register, int immediate, Label target)
    {
        _pendingJumps.Add((_instructions.Count, target));
        Emit(code, register, 0, 0, immediate);
    }
}
