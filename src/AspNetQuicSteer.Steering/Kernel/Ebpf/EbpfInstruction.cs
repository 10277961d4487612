using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace AspNetQuicSteer.Steering.Kernel.Ebpf;

/// <summary>
/// One eBPF instruction, laid out exactly as include/uapi/linux/bpf.h's
/// <c>struct bpf_insn { __u8 code; __u8 dst_reg:4; __u8 src_reg:4; __s16 off; __s32 imm; }</c> (8 bytes, no padding),
/// so an array of these is what <c>union bpf_attr.insns</c> points at for BPF_PROG_LOAD. The two 4-bit register
/// fields share one byte; on the little-endian targets this project supports (x86-64, arm64) the first bit-field,
/// <c>dst_reg</c>, occupies the low nibble (the order the kernel's own <c>BPF_RAW_INSN</c> users rely on).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly struct EbpfInstruction : IEquatable<EbpfInstruction>
{
    /// <summary>sizeof(struct bpf_insn).</summary>
    public const int Size = 8;

    public readonly byte Code;

    /// <summary>dst_reg in the low nibble, src_reg in the high nibble.</summary>
    private readonly byte _registers;

    /// <summary>Memory access offset, or the relative jump distance (pc + 1 + off).</summary>
    public readonly short Offset;

    /// <summary>Constant operand, helper function id, map fd (ld_imm64 with BPF_PSEUDO_MAP_FD).</summary>
    public readonly int Immediate;

    public EbpfInstruction(byte code, int destination, int source, short offset, int immediate)
    {
        if ((uint)destination > EbpfCodes.MaxRegister) throw new ArgumentOutOfRangeException(nameof(destination), destination, "eBPF registers are r0..r10.");
        if ((uint)source > 0x0f) throw new ArgumentOutOfRangeException(nameof(source), source, "src_reg is a 4-bit field.");
        Code = code;
        _registers = (byte)(destination | (source << 4));
        Offset = offset;
        Immediate = immediate;
    }

    public int Destination => _registers & 0x0f;

    public int Source => _registers >> 4;

    /// <summary>A copy with the jump offset replaced (label resolution).</summary>
    public EbpfInstruction WithOffset(short offset) => new(Code, Destination, Source, offset, Immediate);

    public bool Equals(EbpfInstruction other) =>
        Code == other.Code && _registers == other._registers && Offset == other.Offset && Immediate == other.Immediate;

    public override bool Equals(object? obj) => obj is EbpfInstruction other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Code, _registers, Offset, Immediate);

    public static bool operator ==(EbpfInstruction left, EbpfInstruction right) => left.Equals(right);

    public static bool operator !=(EbpfInstruction left, EbpfInstruction right) => !left.Equals(right);

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"code=0x{Code:x2} dst=r{Destination} src={Source} off={Offset} imm={Immediate}");
}

/// <summary>
/// The eBPF encoding constants this project uses, each from the kernel's UAPI headers: include/uapi/linux/bpf_common.h
/// (shared with classic BPF) or include/uapi/linux/bpf.h (marked). Opcode = class | size | mode for loads and stores,
/// class | op | source for ALU and jumps.
/// </summary>
internal static class EbpfCodes
{
    // Instruction classes — bpf_common.h BPF_CLASS(code) = code & 0x07; BPF_ALU64 from bpf.h.
    public const byte BPF_LD = 0x00;
    public const byte BPF_LDX = 0x01;
    public const byte BPF_ST = 0x02;
    public const byte BPF_STX = 0x03;
    public const byte BPF_JMP = 0x05;
    public const byte BPF_ALU64 = 0x07;

    // Sizes — bpf_common.h BPF_SIZE(code) = code & 0x18; BPF_DW from bpf.h.
    public const byte BPF_W = 0x00;
    public const byte BPF_H = 0x08;
    public const byte BPF_B = 0x10;
    public const byte BPF_DW = 0x18;

    // Modes — bpf_common.h BPF_MODE(code) = code & 0xe0.
    public const byte BPF_IMM = 0x00;
    public const byte BPF_MEM = 0x60;

    // ALU operations — bpf_common.h BPF_OP(code) = code & 0xf0; BPF_MOV from bpf.h.
    public const byte BPF_ADD = 0x00;
    public const byte BPF_AND = 0x50;
    public const byte BPF_XOR = 0xa0;
    public const byte BPF_MOV = 0xb0;

    // Jump operations — bpf_common.h (JA, JEQ, JSET) and bpf.h (JNE, JLT, CALL, EXIT).
    public const byte BPF_JA = 0x00;
    public const byte BPF_JEQ = 0x10;
    public const byte BPF_JSET = 0x40;
    public const byte BPF_JNE = 0x50;
    public const byte BPF_JLT = 0xa0;
    public const byte BPF_CALL = 0x80;
    public const byte BPF_EXIT = 0x90;

    // Operand source — bpf_common.h BPF_SRC(code) = code & 0x08.
    public const byte BPF_K = 0x00;
    public const byte BPF_X = 0x08;

    /// <summary>bpf.h "When BPF ldimm64's insn[0].src_reg != 0 …": imm is a map fd, rewritten to the map's address.</summary>
    public const int BPF_PSEUDO_MAP_FD = 1;

    // Registers — bpf.h enum { BPF_REG_0 … BPF_REG_10 }: r0 return value, r1..r5 arguments (clobbered by calls),
    // r6..r9 callee-saved, r10 read-only frame pointer (Documentation/bpf/standardization/instruction-set.rst).
    public const int R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R5 = 5, R6 = 6, R7 = 7, R8 = 8, R9 = 9, R10 = 10;

    /// <summary>bpf.h MAX_BPF_REG - 1.</summary>
    public const int MaxRegister = 10;

    /// <summary>Stack available below r10 (MAX_BPF_STACK, include/linux/filter.h).</summary>
    public const int StackSize = 512;

    /// <summary>bpf_common.h BPF_MAXINSNS: the limit the kernel applies to unprivileged loads; ours stay far below it.</summary>
    public const int MaxInstructions = 4096;

    // Helper function ids — bpf.h enum bpf_func_id, generated by __BPF_FUNC_MAPPER in declaration order from
    // BPF_FUNC_unspec = 0 (values checked against the local /usr/include/linux/bpf.h with a C compiler).
    public const int BPF_FUNC_map_lookup_elem = 1;
    public const int BPF_FUNC_skb_load_bytes = 26;
    public const int BPF_FUNC_sk_select_reuseport = 82;

    // enum sk_action (bpf.h): the verdict of an SK_REUSEPORT program.
    public const int SK_DROP = 0;
    public const int SK_PASS = 1;

    public static int Class(byte code) => code & 0x07;

    public static int Size(byte code) => code & 0x18;

    public static int Mode(byte code) => code & 0xe0;

    public static int Operation(byte code) => code & 0xf0;

    public static int SourceKind(byte code) => code & 0x08;

    public static string HelperName(int id) => id switch
    {
        BPF_FUNC_map_lookup_elem => "bpf_map_lookup_elem",
        BPF_FUNC_skb_load_bytes => "bpf_skb_load_bytes",
        BPF_FUNC_sk_select_reuseport => "bpf_sk_select_reuseport",
        _ => "helper",
    };
}

/// <summary>
/// Text listing of an eBPF program in the C-like notation of the kernel verifier log and bpftool
/// (<c>r2 = *(u32 *)(r6 +16)</c>, <c>if r2 &lt; 0x1d goto pc+19</c>), with absolute jump targets added.
/// </summary>
internal static class EbpfListing
{
    /// <param name="program">The instructions.</param>
    /// <param name="mapNames">Optional names for map fds in ld_imm64 instructions (fd → name).</param>
    public static string Format(ReadOnlySpan<EbpfInstruction> program, IReadOnlyDictionary<int, string>? mapNames = null)
    {
        var text = new StringBuilder();
        for (int pc = 0; pc < program.Length; pc++)
        {
            var instruction = program[pc];
            text.Append(CultureInfo.InvariantCulture, $"{pc,4}: {FormatInstruction(instruction, pc, mapNames)}\n");
            if (IsLoadImmediate64(instruction.Code)) pc++; // the second half carries no instruction of its own
        }

        return text.ToString();
    }

    public static bool IsLoadImmediate64(byte code) => code == (EbpfCodes.BPF_LD | EbpfCodes.BPF_DW | EbpfCodes.BPF_IMM);

    public static string FormatInstruction(EbpfInstruction instruction, int programCounter, IReadOnlyDictionary<int, string>? mapNames = null)
    {
        byte code = instruction.Code;
        string dst = "r" + instruction.Destination.ToString(CultureInfo.InvariantCulture);
        string src = "r" + instruction.Source.ToString(CultureInfo.InvariantCulture);
        int imm = instruction.Immediate;
        string operand = EbpfCodes.SourceKind(code) == EbpfCodes.BPF_X ? src : Number(imm);
        string Memory(string register) => string.Create(CultureInfo.InvariantCulture,
            $"*({SizeName(code)} *)({register} {(instruction.Offset < 0 ? "-" : "+")}{Math.Abs((int)instruction.Offset)})");
        string Target() => string.Create(CultureInfo.InvariantCulture,
            $"pc{(instruction.Offset < 0 ? "" : "+")}{instruction.Offset} ({programCounter + 1 + instruction.Offset})");

        switch (EbpfCodes.Class(code))
        {
            case EbpfCodes.BPF_ALU64:
                return EbpfCodes.Operation(code) switch
                {
                    EbpfCodes.BPF_MOV => $"{dst} = {operand}",
                    EbpfCodes.BPF_ADD => imm < 0 && EbpfCodes.SourceKind(code) == EbpfCodes.BPF_K ? $"{dst} += {imm}" : $"{dst} += {operand}",
                    EbpfCodes.BPF_AND => $"{dst} &= {operand}",
                    EbpfCodes.BPF_XOR => $"{dst} ^= {operand}",
                    _ => Unknown(code),
                };
            case EbpfCodes.BPF_LD when IsLoadImmediate64(code):
                if (instruction.Source == EbpfCodes.BPF_PSEUDO_MAP_FD)
                {
                    string name = mapNames is not null && mapNames.TryGetValue(imm, out var known) ? known : "fd " + imm.ToString(CultureInfo.InvariantCulture);
                    return $"{dst} = map[{name}] ll";
                }

                return $"{dst} = {Number(imm)} ll";
            case EbpfCodes.BPF_LDX when EbpfCodes.Mode(code) == EbpfCodes.BPF_MEM:
                return $"{dst} = {Memory(src)}";
            case EbpfCodes.BPF_STX when EbpfCodes.Mode(code) == EbpfCodes.BPF_MEM:
                return $"{Memory(dst)} = {src}";
            case EbpfCodes.BPF_ST when EbpfCodes.Mode(code) == EbpfCodes.BPF_MEM:
                return $"{Memory(dst)} = {Number(imm)}";
            case EbpfCodes.BPF_JMP:
                return EbpfCodes.Operation(code) switch
                {
                    EbpfCodes.BPF_CALL => string.Create(CultureInfo.InvariantCulture, $"call {EbpfCodes.HelperName(imm)}#{imm}"),
                    EbpfCodes.BPF_EXIT => "exit",
                    EbpfCodes.BPF_JA => $"goto {Target()}",
                    EbpfCodes.BPF_JEQ => $"if {dst} == {operand} goto {Target()}",
                    EbpfCodes.BPF_JNE => $"if {dst} != {operand} goto {Target()}",
                    EbpfCodes.BPF_JLT => $"if {dst} < {operand} goto {Target()}",
                    EbpfCodes.BPF_JSET => $"if {dst} & {operand} goto {Target()}",
                    _ => Unknown(code),
                };
            default:
                return Unknown(code);
        }
    }

    private static string SizeName(byte code) => EbpfCodes.Size(code) switch
    {
        EbpfCodes.BPF_B => "u8",
        EbpfCodes.BPF_H => "u16",
        EbpfCodes.BPF_W => "u32",
        _ => "u64",
    };

    private static string Number(int value) =>
        value is >= 0 and < 10 ? value.ToString(CultureInfo.InvariantCulture) : "0x" + value.ToString("x", CultureInfo.InvariantCulture);

    private static string Unknown(byte code) => string.Create(CultureInfo.InvariantCulture, $"(unknown opcode 0x{code:x2})");
}
