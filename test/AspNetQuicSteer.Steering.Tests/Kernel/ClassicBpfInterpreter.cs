using System.Buffers.Binary;
using AspNetQuicSteer.Steering.Kernel;
using static AspNetQuicSteer.Steering.Kernel.ClassicBpf;

namespace AspNetQuicSteer.Steering.Tests.Kernel;

/// <summary>
/// Runs a classic BPF program over a packet the way the kernel does for a reuseport group, so the steering program can
/// be table-tested without a kernel. Semantics from Documentation/networking/filter.rst and net/core/filter.c:
/// A and X start at 0 (bpf_convert_filter's prologue clears both); packet loads are big-endian; a load past the end
/// of the packet ends the program with return value 0 (convert_bpf_ld_abs: the helper fails → A = 0, exit);
/// conditional jumps continue at pc + 1 + jt / jf; <c>ld len</c> is the length of the data the program sees (for
/// reuseport: the UDP payload). Covers every opcode <see cref="ClassicBpfAssembler"/> emits plus the few extra the
/// cross-check tests use; anything else throws. <see cref="Check"/> applies the kernel checker's structural rules.
/// </summary>
internal static class ClassicBpfInterpreter
{
    public static uint Run(ReadOnlySpan<ClassicBpfInstruction> program, ReadOnlySpan<byte> packet)
    {
        Check(program);
        uint a = 0, x = 0;
        int pc = 0;
        while (true)
        {
            var insn = program[pc];
            ushort code = insn.Code;
            uint k = insn.K;
            switch (Class(code))
            {
                case BPF_LD:
                    if (Mode(code) == BPF_ABS)
                    {
                        int size = Size(code) switch { BPF_B => 1, BPF_H => 2, BPF_W => 4, _ => throw Unsupported(insn, pc) };
                        if (k > int.MaxValue || (long)k + size > packet.Length) return 0; // out of bounds: the program returns 0
                        var bytes = packet.Slice((int)k, size);
                        a = size switch
                        {
                            1 => bytes[0],
                            2 => BinaryPrimitives.ReadUInt16BigEndian(bytes),
                            _ => BinaryPrimitives.ReadUInt32BigEndian(bytes),
                        };
                    }
                    else if (Mode(code) == BPF_LEN && Size(code) == BPF_W) a = (uint)packet.Length;
                    else if (Mode(code) == BPF_IMM && Size(code) == BPF_W) a = k;
                    else throw Unsupported(insn, pc);
                    pc++;
                    break;

                case BPF_LDX:
                    if (Mode(code) == BPF_IMM && Size(code) == BPF_W) x = k;
                    else if (Mode(code) == BPF_LEN && Size(code) == BPF_W) x = (uint)packet.Length;
                    else throw Unsupported(insn, pc);
                    pc++;
                    break;

                case BPF_ALU:
                    uint operand = Source(code) == BPF_X ? x : k;
                    a = Operation(code) switch
                    {
                        0x00 => a + operand,          // BPF_ADD
                        0x10 => a - operand,          // BPF_SUB
                        0x20 => a * operand,          // BPF_MUL
                        0x40 => a | operand,          // BPF_OR
                        BPF_AND => a & operand,
                        0x60 => a << (int)operand,    // BPF_LSH (k < 32 by the checker)
                        BPF_RSH => a >> (int)operand,
                        BPF_XOR => a ^ operand,
                        _ => throw Unsupported(insn, pc),
                    };
                    pc++;
                    break;

                case BPF_JMP:
                    uint right = Source(code) == BPF_X ? x : k;
                    bool taken = Operation(code) switch
                    {
                        BPF_JEQ => a == right,
                        BPF_JGT => a > right,
                        0x30 => a >= right,           // BPF_JGE
                        BPF_JSET => (a & right) != 0,
                        _ => throw Unsupported(insn, pc),
                    };
                    pc += 1 + (taken ? insn.JumpIfTrue : insn.JumpIfFalse);
                    break;

                case BPF_RET:
                    return ReturnSource(code) == BPF_A ? a : k;

                case BPF_MISC:
                    if ((code & 0xf8) == BPF_TAX) x = a;
                    else if ((code & 0xf8) == 0x80) a = x; // BPF_TXA
                    else throw Unsupported(insn, pc);
                    pc++;
                    break;

                default:
                    throw Unsupported(insn, pc);
            }
        }
    }

    /// <summary>The structural rules of net/core/filter.c bpf_check_basics_ok / bpf_check_classic that the assembler must meet.</summary>
    public static void Check(ReadOnlySpan<ClassicBpfInstruction> program)
    {
        if (program.Length is 0 or > MaxInstructions) throw new InvalidOperationException($"Program length {program.Length} outside 1..{MaxInstructions}.");
        for (int pc = 0; pc < program.Length; pc++)
        {
            var insn = program[pc];
            if (Class(insn.Code) == BPF_JMP && (pc + insn.JumpIfTrue + 1 >= program.Length || pc + insn.JumpIfFalse + 1 >= program.Length))
                throw new InvalidOperationException($"Jump at {pc} leaves the program.");
            if (Class(insn.Code) == BPF_ALU && Operation(insn.Code) is BPF_RSH or 0x60 && Source(insn.Code) == BPF_K && insn.K >= 32)
                throw new InvalidOperationException($"Shift by {insn.K} at {pc}.");
        }

        if (Class(program[^1].Code) != BPF_RET) throw new InvalidOperationException("The last instruction is not a return.");
    }

    private static NotSupportedException Unsupported(ClassicBpfInstruction insn, int pc) =>
        new($"Instruction {pc} (code 0x{insn.Code:x4}) is outside what this interpreter implements.");
}
