using static AspNetQuicSteer.Steering.Kernel.ClassicBpf;

namespace AspNetQuicSteer.Steering.Kernel;

/// <summary>
/// A minimal classic BPF assembler: exactly the loads, ALU operations, jumps and returns the reuseport steering
/// program needs, with forward labels resolved to the relative jt/jf offsets of linux/filter.h's struct sock_filter.
/// Semantics (Documentation/networking/filter.rst, "BPF engine and instruction set"): A is the accumulator, X the
/// index register; loads from the packet are big-endian; a conditional jump continues at pc + 1 + jt (condition
/// true) or pc + 1 + jf (false), so only forward jumps exist and each is at most 255 instructions.
/// <para>Building a program is rare (once per membership change), so this allocates freely.</para>
/// </summary>
internal sealed class ClassicBpfAssembler
{
    private readonly List<ClassicBpfInstruction> _instructions = [];
    private readonly List<int> _labelPositions = [];
    private readonly List<(int Pc, Label? True, Label? False)> _pendingJumps = [];

    /// <summary>A jump target; <see cref="Mark"/> places it before the next instruction emitted.</summary>
    internal readonly record struct Label(int Id);

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

    // ---- loads into A -------------------------------------------------------------------------------------------

    /// <summary><c>ldb [k]</c>: A = packet byte k (BPF_LD|BPF_B|BPF_ABS). Out of bounds: the program returns 0.</summary>
    public void LoadAbsoluteByte(uint offset) => Emit(BPF_LD | BPF_B | BPF_ABS, offset);

    /// <summary><c>ldh [k]</c>: A = big-endian 16-bit value at packet offset k (BPF_LD|BPF_H|BPF_ABS).</summary>
    public void LoadAbsoluteHalf(uint offset) => Emit(BPF_LD | BPF_H | BPF_ABS, offset);

    /// <summary><c>ld len</c>: A = packet length (BPF_LD|BPF_W|BPF_LEN); for a reuseport program, the UDP payload length.</summary>
    public void LoadLength() => Emit(BPF_LD | BPF_W | BPF_LEN, 0);

    // ---- X register ---------------------------------------------------------------------------------------------

    /// <summary><c>ldx #k</c>: X = k (BPF_LDX|BPF_W|BPF_IMM).</summary>
    public void LoadXImmediate(uint value) => Emit(BPF_LDX | BPF_W | BPF_IMM, value);

    /// <summary><c>tax</c>: X = A (BPF_MISC|BPF_TAX, filter.h).</summary>
    public void TransferAToX() => Emit(BPF_MISC | BPF_TAX, 0);

    // ---- ALU on A -----------------------------------------------------------------------------------------------

    /// <summary><c>and #k</c>: A &amp;= k.</summary>
    public void AndConstant(uint value) => Emit(BPF_ALU | BPF_AND | BPF_K, value);

    /// <summary><c>rsh #k</c>: A &gt;&gt;= k (k &lt; 32; the kernel checker rejects larger shifts).</summary>
    public void RightShiftConstant(uint bits)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(bits, 32u);
        Emit(BPF_ALU | BPF_RSH | BPF_K, bits);
    }

    /// <summary><c>xor #k</c>: A ^= k.</summary>
    public void XorConstant(uint value) => Emit(BPF_ALU | BPF_XOR | BPF_K, value);

    /// <summary><c>xor x</c>: A ^= X.</summary>
    public void XorX() => Emit(BPF_ALU | BPF_XOR | BPF_X, 0);

    // ---- conditional jumps (a null target = the next instruction) -----------------------------------------------

    /// <summary><c>jeq #k, t, f</c>: A == k.</summary>
    public void JumpIfEqual(uint value, Label? whenTrue, Label? whenFalse = null) =>
        EmitJump(BPF_JMP | BPF_JEQ | BPF_K, value, whenTrue, whenFalse);

    /// <summary><c>jgt #k, t, f</c>: A &gt; k (unsigned).</summary>
    public void JumpIfGreater(uint value, Label? whenTrue, Label? whenFalse = null) =>
        EmitJump(BPF_JMP | BPF_JGT | BPF_K, value, whenTrue, whenFalse);

    /// <summary><c>jset #k, t, f</c>: (A &amp; k) != 0.</summary>
    public void JumpIfAnySet(uint mask, Label? whenTrue, Label? whenFalse = null) =>
        EmitJump(BPF_JMP | BPF_JSET | BPF_K, mask, whenTrue, whenFalse);

    // ---- returns ------------------------------------------------------------------------------------------------

    /// <summary><c>ret #k</c> (BPF_RET|BPF_K); for a reuseport program, the socket index.</summary>
    public void Return(uint value) => Emit(BPF_RET | BPF_K, value);

    /// <summary><c>ret a</c> (BPF_RET|BPF_A, filter.h).</summary>
    public void ReturnA() => Emit(BPF_RET | BPF_A, 0);

    /// <summary>
    /// Resolves labels and checks what the kernel's classic checker (net/core/filter.c bpf_check_classic) would
    /// reject: an empty or over-long program (1..BPF_MAXINSNS), a jump backwards, past the end or further than 255,
    /// a program that does not end in a return.
    /// </summary>
    public ClassicBpfInstruction[] Assemble()
    {
        if (_instructions.Count == 0) throw new InvalidOperationException("A classic BPF program needs at least one instruction.");
        if (_instructions.Count > MaxInstructions)
            throw new InvalidOperationException($"The program has {_instructions.Count} instructions; the kernel accepts at most {MaxInstructions} (BPF_MAXINSNS).");
        if (Class(_instructions[^1].Code) != BPF_RET)
            throw new InvalidOperationException("A classic BPF program must end in a return (bpf_check_classic rejects anything else).");

        var program = _instructions.ToArray();
        foreach (var (pc, whenTrue, whenFalse) in _pendingJumps)
        {
            var jump = program[pc];
            program[pc] = new ClassicBpfInstruction(jump.Code, Offset(pc, whenTrue), Offset(pc, whenFalse), jump.K);
        }

        return program;
    }

    private byte Offset(int pc, Label? target)
    {
        if (target is not { } label) return 0;
        int position = _labelPositions[label.Id];
        if (position < 0) throw new InvalidOperationException($"Label {label.Id} is used by the jump at {pc} but never marked.");
        if (position >= _instructions.Count)
            throw new InvalidOperationException($"Label {label.Id} (jump at {pc}) is marked after the last instruction.");
        int offset = position - (pc + 1);
        if (offset < 0) throw new InvalidOperationException($"The jump at {pc} goes backwards; classic BPF only jumps forward.");
        if (offset > MaxConditionalJump)
            throw new InvalidOperationException($"The jump at {pc} skips {offset} instructions; jt/jf are 8-bit (at most {MaxConditionalJump}).");
        return (byte)offset;
    }

    private void Emit(int code, uint k) => _instructions.Add(ClassicBpfInstruction.Statement((ushort)code, k));

    private void EmitJump(int code, uint k, Label? whenTrue, Label? whenFalse)
    {
        _pendingJumps.Add((_instructions.Count, whenTrue, whenFalse));
        _instructions.Add(ClassicBpfInstruction.Jump((ushort)code, k, 0, 0));
    }
}
