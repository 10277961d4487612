using System.Runtime.InteropServices;
using AspNetQuicSteer.Steering.Kernel;

namespace AspNetQuicSteer.Steering.Tests.Kernel;

public sealed class ClassicBpfAssemblerTests
{
    [Fact]
    public void Instruction_layout_is_struct_sock_filter()
    {
        // linux/filter.h: struct sock_filter { __u16 code; __u8 jt; __u8 jf; __u32 k; } — 8 bytes.
        Assert.Equal(ClassicBpfInstruction.Size, Marshal.SizeOf<ClassicBpfInstruction>());
        Assert.Equal(8, System.Runtime.CompilerServices.Unsafe.SizeOf<ClassicBpfInstruction>());
        Assert.Equal(0, (int)Marshal.OffsetOf<ClassicBpfInstruction>(nameof(ClassicBpfInstruction.Code)));
        Assert.Equal(2, (int)Marshal.OffsetOf<ClassicBpfInstruction>(nameof(ClassicBpfInstruction.JumpIfTrue)));
        Assert.Equal(3, (int)Marshal.OffsetOf<ClassicBpfInstruction>(nameof(ClassicBpfInstruction.JumpIfFalse)));
        Assert.Equal(4, (int)Marshal.OffsetOf<ClassicBpfInstruction>(nameof(ClassicBpfInstruction.K)));
    }

    [Fact]
    public void Sock_fprog_layout_is_lp64()
    {
        Assert.SkipUnless(Environment.Is64BitProcess, "the layout pinned here is LP64");
        // linux/filter.h: struct sock_fprog { unsigned short len; struct sock_filter *filter; } — pointer at 8.
        Assert.Equal(16, Marshal.SizeOf<ReuseportSocket.SockFprog>());
        Assert.Equal(8, (int)Marshal.OffsetOf<ReuseportSocket.SockFprog>(nameof(ReuseportSocket.SockFprog.Filter)));
    }

    [Fact]
    public void Opcodes_match_the_kernel_encoding()
    {
        // The numeric codes tcpdump -dd / bpf_asm emit for these mnemonics (bpf_common.h + filter.h field values).
        var asm = new ClassicBpfAssembler();
        var end = asm.DefineLabel();
        asm.LoadAbsoluteByte(1);       // 0x30 = BPF_LD|BPF_B|BPF_ABS
        asm.LoadAbsoluteHalf(2);       // 0x28 = BPF_LD|BPF_H|BPF_ABS
        asm.LoadLength();              // 0x80 = BPF_LD|BPF_W|BPF_LEN
        asm.LoadXImmediate(3);         // 0x01 = BPF_LDX|BPF_W|BPF_IMM
        asm.TransferAToX();            // 0x07 = BPF_MISC|BPF_TAX
        asm.AndConstant(4);            // 0x54 = BPF_ALU|BPF_AND|BPF_K
        asm.RightShiftConstant(5);     // 0x74 = BPF_ALU|BPF_RSH|BPF_K
        asm.XorConstant(6);            // 0xa4 = BPF_ALU|BPF_XOR|BPF_K
        asm.XorX();                    // 0xac = BPF_ALU|BPF_XOR|BPF_X
        asm.JumpIfEqual(7, end);       // 0x15 = BPF_JMP|BPF_JEQ|BPF_K
        asm.JumpIfGreater(8, end);     // 0x25 = BPF_JMP|BPF_JGT|BPF_K
        asm.JumpIfAnySet(9, end);      // 0x45 = BPF_JMP|BPF_JSET|BPF_K
        asm.ReturnA();                 // 0x16 = BPF_RET|BPF_A
        asm.Mark(end);
        asm.Return(10);                // 0x06 = BPF_RET|BPF_K
        var program = asm.Assemble();

        ushort[] expected = [0x30, 0x28, 0x80, 0x01, 0x07, 0x54, 0x74, 0xa4, 0xac, 0x15, 0x25, 0x45, 0x16, 0x06];
        Assert.Equal(expected, program.Select(i => i.Code).ToArray());
        Assert.Equal([1u, 2, 0, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 10], program.Select(i => i.K).ToArray());
    }

    [Fact]
    public void Labels_resolve_to_forward_offsets_and_null_targets_fall_through()
    {
        var asm = new ClassicBpfAssembler();
        var a = asm.DefineLabel();
        var b = asm.DefineLabel();
        asm.LoadAbsoluteByte(0);
        asm.JumpIfEqual(1, a);           // pc 1: a = 4 → jt 2; false falls through → jf 0
        asm.JumpIfGreater(2, null, b);   // pc 2: true falls through → jt 0; b = 5 → jf 2
        asm.Return(0);                   // pc 3
        asm.Mark(a);
        asm.Return(1);                   // pc 4
        asm.Mark(b);
        asm.Return(2);                   // pc 5
        var program = asm.Assemble();

        Assert.Equal((2, 0), (program[1].JumpIfTrue, program[1].JumpIfFalse));
        Assert.Equal((0, 2), (program[2].JumpIfTrue, program[2].JumpIfFalse));
        Assert.Equal(1u, ClassicBpfInterpreter.Run(program, [1]));
        Assert.Equal(0u, ClassicBpfInterpreter.Run(program, [3]));
        Assert.Equal(2u, ClassicBpfInterpreter.Run(program, [2]));
        Assert.Equal(2u, ClassicBpfInterpreter.Run(program, [0]));
    }

    [Fact]
    public void A_jump_of_255_assembles_and_256_is_rejected()
    {
        Assert.Equal(255, JumpOver(255)[0].JumpIfTrue);
        var error = Assert.Throws<InvalidOperationException>(() => JumpOver(256));
        Assert.Contains("8-bit", error.Message, StringComparison.Ordinal);

        static ClassicBpfInstruction[] JumpOver(int skipped)
        {
            var asm = new ClassicBpfAssembler();
            var target = asm.DefineLabel();
            asm.JumpIfAnySet(1, target);
            for (int i = 0; i < skipped; i++) asm.Return(0);
            asm.Mark(target);
            asm.Return(1);
            return asm.Assemble();
        }
    }

    [Fact]
    public void Backward_unmarked_and_dangling_labels_are_rejected()
    {
        var backward = new ClassicBpfAssembler();
        var top = backward.DefineLabel();
        backward.Mark(top);
        backward.LoadLength();
        backward.JumpIfEqual(0, top);
        backward.Return(0);
        Assert.Contains("backwards", Assert.Throws<InvalidOperationException>(backward.Assemble).Message, StringComparison.Ordinal);

        var unmarked = new ClassicBpfAssembler();
        unmarked.JumpIfEqual(0, unmarked.DefineLabel());
        unmarked.Return(0);
        Assert.Contains("never marked", Assert.Throws<InvalidOperationException>(unmarked.Assemble).Message, StringComparison.Ordinal);

        var dangling = new ClassicBpfAssembler();
        var end = dangling.DefineLabel();
        dangling.JumpIfEqual(0, end);
        dangling.Return(0);
        dangling.Mark(end);
        Assert.Contains("after the last", Assert.Throws<InvalidOperationException>(dangling.Assemble).Message, StringComparison.Ordinal);

        var twice = new ClassicBpfAssembler();
        var label = twice.DefineLabel();
        twice.Mark(label);
        Assert.Throws<InvalidOperationException>(() => twice.Mark(label));
    }

    [Fact]
    public void Program_length_is_1_to_4096_and_ends_in_a_return()
    {
        Assert.Throws<InvalidOperationException>(new ClassicBpfAssembler().Assemble);

        var noReturn = new ClassicBpfAssembler();
        noReturn.LoadLength();
        Assert.Contains("return", Assert.Throws<InvalidOperationException>(noReturn.Assemble).Message, StringComparison.Ordinal);

        Assert.Equal(ClassicBpf.MaxInstructions, Returns(ClassicBpf.MaxInstructions).Length);
        Assert.Contains("4096", Assert.Throws<InvalidOperationException>(() => Returns(ClassicBpf.MaxInstructions + 1)).Message, StringComparison.Ordinal);

        static ClassicBpfInstruction[] Returns(int count)
        {
            var asm = new ClassicBpfAssembler();
            for (int i = 0; i < count; i++) asm.Return(0);
            return asm.Assemble();
        }
    }

    [Fact]
    public void Shifts_of_32_or_more_are_rejected_like_the_kernel_checker() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new ClassicBpfAssembler().RightShiftConstant(32));

    [Fact]
    public void Interpreter_ends_the_program_with_0_on_an_out_of_bounds_load()
    {
        // Documentation/networking/filter.rst / net/core/filter.c convert_bpf_ld_abs: a failed packet load returns 0.
        // For a reuseport program that is socket index 0 — why the steering program guards with ld len.
        var asm = new ClassicBpfAssembler();
        asm.LoadAbsoluteHalf(4);
        asm.Return(2);
        var program = asm.Assemble();
        Assert.Equal(0u, ClassicBpfInterpreter.Run(program, [1, 2, 3, 4, 5])); // bytes 4..5 needed, only 4 present
        Assert.Equal(2u, ClassicBpfInterpreter.Run(program, [1, 2, 3, 4, 5, 6]));
    }

    [Fact]
    public void Listing_uses_bpf_asm_notation_with_absolute_targets()
    {
        var asm = new ClassicBpfAssembler();
        var end = asm.DefineLabel();
        asm.LoadLength();
        asm.JumpIfGreater(8, end);
        asm.Return(2);
        asm.Mark(end);
        asm.ReturnA();
        Assert.Equal("   0: ld len\n   1: jgt #8, 3, 2\n   2: ret #2\n   3: ret a\n", ClassicBpfListing.Format(asm.Assemble()));
    }
}
