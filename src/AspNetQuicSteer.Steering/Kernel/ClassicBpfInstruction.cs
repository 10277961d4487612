using System.Globalization;
using System.Runtime.InteropServices;

namespace AspNetQuicSteer.Steering.Kernel;

/// <summary>
/// One classic BPF instruction, laid out exactly as linux/filter.h's
/// <c>struct sock_filter { __u16 code; __u8 jt; __u8 jf; __u32 k; }</c> (8 bytes, no padding), so an array of these
/// is what <c>struct sock_fprog.filter</c> points at.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly struct ClassicBpfInstruction : IEquatable<ClassicBpfInstruction>
{
    /// <summary>sizeof(struct sock_filter).</summary>
    public const int Size = 8;

    public readonly ushort Code;

    /// <summary>Conditional jumps: instructions to skip when the condition holds (relative to the next instruction).</summary>
    public readonly byte JumpIfTrue;

    /// <summary>Conditional jumps: instructions to skip when the condition does not hold.</summary>
    public readonly byte JumpIfFalse;

    /// <summary>The generic operand: constant, packet offset or return value.</summary>
    public readonly uint K;

    public ClassicBpfInstruction(ushort code, byte jumpIfTrue, byte jumpIfFalse, uint k)
    {
        Code = code;
        JumpIfTrue = jumpIfTrue;
        JumpIfFalse = jumpIfFalse;
        K = k;
    }

    /// <summary>linux/filter.h BPF_STMT(code, k).</summary>
    public static ClassicBpfInstruction Statement(ushort code, uint k) => new(code, 0, 0, k);

    /// <summary>linux/filter.h BPF_JUMP(code, k, jt, jf).</summary>
    public static ClassicBpfInstruction Jump(ushort code, uint k, byte jumpIfTrue, byte jumpIfFalse) => new(code, jumpIfTrue, jumpIfFalse, k);

    public bool Equals(ClassicBpfInstruction other) =>
        Code == other.Code && JumpIfTrue == other.JumpIfTrue && JumpIfFalse == other.JumpIfFalse && K == other.K;

    public override bool Equals(object? obj) => obj is ClassicBpfInstruction other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Code, JumpIfTrue, JumpIfFalse, K);

    public static bool operator ==(ClassicBpfInstruction left, ClassicBpfInstruction right) => left.Equals(right);

    public static bool operator !=(ClassicBpfInstruction left, ClassicBpfInstruction right) => !left.Equals(right);

    /// <summary>bpf_asm-style text without jump targets resolved (see <see cref="ClassicBpfListing"/> for a whole program).</summary>
    public override string ToString() => ClassicBpfListing.FormatInstruction(this, programCounter: -1);
}

/// <summary>
/// The opcode fields this project uses, each from the kernel's UAPI headers (include/uapi/linux/bpf_common.h unless
/// marked filter.h). An opcode is class | size | mode for loads, class | op | source for ALU and jumps,
/// class | rval for returns.
/// </summary>
internal static class ClassicBpf
{
    // Instruction classes — bpf_common.h "Instruction classes", BPF_CLASS(code) = code & 0x07.
    public const ushort BPF_LD = 0x00;
    public const ushort BPF_LDX = 0x01;
    public const ushort BPF_ALU = 0x04;
    public const ushort BPF_JMP = 0x05;
    public const ushort BPF_RET = 0x06;
    public const ushort BPF_MISC = 0x07;

    // ld/ldx sizes — bpf_common.h, BPF_SIZE(code) = code & 0x18.
    public const ushort BPF_W = 0x00;
    public const ushort BPF_H = 0x08;
    public const ushort BPF_B = 0x10;

    // ld/ldx modes — bpf_common.h, BPF_MODE(code) = code & 0xe0.
    public const ushort BPF_IMM = 0x00;
    public const ushort BPF_ABS = 0x20;
    public const ushort BPF_LEN = 0x80;

    // ALU operations — bpf_common.h, BPF_OP(code) = code & 0xf0.
    public const ushort BPF_AND = 0x50;
    public const ushort BPF_RSH = 0x70;
    public const ushort BPF_XOR = 0xa0;

    // Jump operations — bpf_common.h, BPF_OP(code).
    public const ushort BPF_JEQ = 0x10;
    public const ushort BPF_JGT = 0x20;
    public const ushort BPF_JSET = 0x40;

    // Operand source — bpf_common.h, BPF_SRC(code) = code & 0x08.
    public const ushort BPF_K = 0x00;
    public const ushort BPF_X = 0x08;

    // Return value source — filter.h, BPF_RVAL(code) = code & 0x18 (BPF_K above, or the accumulator).
    public const ushort BPF_A = 0x10;

    // Misc operations — filter.h, BPF_MISCOP(code) = code & 0xf8.
    public const ushort BPF_TAX = 0x00;

    /// <summary>bpf_common.h BPF_MAXINSNS: the kernel rejects longer programs (net/core/filter.c bpf_check_basics_ok).</summary>
    public const int MaxInstructions = 4096;

    /// <summary>jt/jf are __u8 (filter.h struct sock_filter): a conditional jump skips at most 255 instructions.</summary>
    public const int MaxConditionalJump = byte.MaxValue;

    public static int Class(ushort code) => code & 0x07;

    public static int Size(ushort code) => code & 0x18;

    public static int Mode(ushort code) => code & 0xe0;

    public static int Operation(ushort code) => code & 0xf0;

    public static int Source(ushort code) => code & 0x08;

    public static int ReturnSource(ushort code) => code & 0x18;
}

/// <summary>Text listing of a classic BPF program in the notation of the kernel's bpf_asm / bpf_dbg tools.</summary>
internal static class ClassicBpfListing
{
    public static string Format(ReadOnlySpan<ClassicBpfInstruction> program)
    {
        var text = new System.Text.StringBuilder();
        for (int pc = 0; pc < program.Length; pc++)
            text.Append(CultureInfo.InvariantCulture, $"{pc,4}: {FormatInstruction(program[pc], pc)}\n");
        return text.ToString();
    }

    /// <summary>One instruction; with <paramref name="programCounter"/> ≥ 0 jump targets are shown as absolute instruction numbers.</summary>
    public static string FormatInstruction(ClassicBpfInstruction instruction, int programCounter)
    {
        ushort code = instruction.Code;
        uint k = instruction.K;
        string Target(byte offset) => programCounter >= 0
            ? (programCounter + 1 + offset).ToString(CultureInfo.InvariantCulture)
            : "+" + offset.ToString(CultureInfo.InvariantCulture);
        string Operand(bool hex = true) => ClassicBpf.Source(code) == ClassicBpf.BPF_X ? "x" : hex ? Hex(k) : Decimal(k);

        switch (ClassicBpf.Class(code))
        {
            case ClassicBpf.BPF_LD:
                return (ClassicBpf.Mode(code), ClassicBpf.Size(code)) switch
                {
                    (ClassicBpf.BPF_ABS, ClassicBpf.BPF_B) => $"ldb [{k}]",
                    (ClassicBpf.BPF_ABS, ClassicBpf.BPF_H) => $"ldh [{k}]",
                    (ClassicBpf.BPF_ABS, ClassicBpf.BPF_W) => $"ld [{k}]",
                    (ClassicBpf.BPF_LEN, ClassicBpf.BPF_W) => "ld len",
                    (ClassicBpf.BPF_IMM, ClassicBpf.BPF_W) => $"ld {Hex(k)}",
                    _ => Unknown(code),
                };
            case ClassicBpf.BPF_LDX:
                return (ClassicBpf.Mode(code), ClassicBpf.Size(code)) switch
                {
                    (ClassicBpf.BPF_IMM, ClassicBpf.BPF_W) => $"ldx {Decimal(k)}",
                    (ClassicBpf.BPF_LEN, ClassicBpf.BPF_W) => "ldx len",
                    _ => Unknown(code),
                };
            case ClassicBpf.BPF_ALU:
                return ClassicBpf.Operation(code) switch
                {
                    ClassicBpf.BPF_AND => $"and {Operand()}",
                    ClassicBpf.BPF_RSH => $"rsh {Operand(hex: false)}",
                    ClassicBpf.BPF_XOR => $"xor {Operand()}",
                    _ => Unknown(code),
                };
            case ClassicBpf.BPF_JMP:
                int operation = ClassicBpf.Operation(code);
                string mnemonic = operation switch
                {
                    ClassicBpf.BPF_JEQ => "jeq",
                    ClassicBpf.BPF_JGT => "jgt",
                    ClassicBpf.BPF_JSET => "jset",
                    _ => "",
                };
                return mnemonic.Length == 0
                    ? Unknown(code)
                    : $"{mnemonic} {Operand(hex: operation != ClassicBpf.BPF_JGT)}, {Target(instruction.JumpIfTrue)}, {Target(instruction.JumpIfFalse)}";
            case ClassicBpf.BPF_RET:
                return ClassicBpf.ReturnSource(code) == ClassicBpf.BPF_A ? "ret a" : $"ret {Decimal(k)}";
            case ClassicBpf.BPF_MISC:
                return (code & 0xf8) == ClassicBpf.BPF_TAX ? "tax" : Unknown(code);
            default:
                return Unknown(code);
        }
    }

    private static string Decimal(uint k) => "#" + k.ToString(CultureInfo.InvariantCulture);

    private static string Hex(uint k) => "#0x" + k.ToString("x", CultureInfo.InvariantCulture);

    private static string Unknown(ushort code) => "code 0x" + code.ToString("x2", CultureInfo.InvariantCulture);
}
