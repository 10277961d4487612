using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using AspNetQuicSteer.Steering.Kernel;
using AspNetQuicSteer.Steering.Kernel.Ebpf;
using CsCheck;
using static AspNetQuicSteer.Steering.Kernel.Ebpf.EbpfCodes;

namespace AspNetQuicSteer.Steering.Tests.Kernel.Ebpf;

/// <summary>
/// The instruction encoding, the assembler, and the steering program run by <see cref="EbpfInterpreter"/> against the
/// managed router (<see cref="ExpectedSteering"/>) — no kernel needed.
/// </summary>
public sealed class ReuseportEbpfProgramTests
{
    private const int SocketMapFd = 3, ActiveMapFd = 4;
    private static readonly GenerationId G1 = new(0x11), G2 = new(0x22), G3 = new(0x33);

    [Fact]
    public void An_instruction_is_a_struct_bpf_insn()
    {
        Assert.Equal(EbpfInstruction.Size, Marshal.SizeOf<EbpfInstruction>());
        Assert.Equal(EbpfInstruction.Size, Unsafe.SizeOf<EbpfInstruction>());

        // r6 = r1: code 0xbf (BPF_ALU64|BPF_MOV|BPF_X), dst_reg in the low nibble, src_reg in the high one.
        Assert.Equal(new byte[] { 0xbf, 0x16, 0, 0, 0, 0, 0, 0 }, Bytes(new EbpfInstruction(0xbf, 6, 1, 0, 0)));
        // *(u32 *)(r10 - 8) = r2: code 0x63, off = -8 little-endian, imm 0.
        Assert.Equal(new byte[] { 0x63, 0x2a, 0xf8, 0xff, 0, 0, 0, 0 }, Bytes(new EbpfInstruction(0x63, 10, 2, -8, 0)));
        // call 82: code 0x85, imm little-endian.
        Assert.Equal(new byte[] { 0x85, 0, 0, 0, 82, 0, 0, 0 }, Bytes(new EbpfInstruction(0x85, 0, 0, 0, 82)));

        var asm = new EbpfAssembler();
        asm.LoadMapFd(R1, 0x01020304);
        asm.Exit();
        var program = asm.Assemble();
        Assert.Equal(3, program.Length);
        // ld_imm64 (0x18), src_reg = BPF_PSEUDO_MAP_FD, imm = fd; second half all zero.
        Assert.Equal(new byte[] { 0x18, 0x11, 0, 0, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0 },
            MemoryMarshal.AsBytes(program.AsSpan()).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => new EbpfInstruction(0xbf, 11, 0, 0, 0));
    }

    [Fact]
    public void The_assembler_resolves_labels_and_refuses_what_cannot_load()
    {
        var asm = new EbpfAssembler();
        var end = asm.DefineLabel();
        var middle = asm.DefineLabel();
        asm.MoveImmediate(R0, 1);                // 0
        asm.JumpIfEqual(R0, 1, middle);          // 1 → 4
        asm.LoadMapFd(R1, 7);                    // 2, 3
        asm.Mark(middle);
        asm.JumpIfNotEqual(R0, 0, end);          // 4 → 6
        asm.MoveImmediate(R0, 0);                // 5
        asm.Mark(end);
        asm.Exit();                              // 6
        var program = asm.Assemble();
        Assert.Equal(2, program[1].Offset);
        Assert.Equal(1, program[4].Offset);

        Assert.Throws<InvalidOperationException>(() => new EbpfAssembler().Assemble()); // empty

        var unmarked = new EbpfAssembler();
        unmarked.Jump(unmarked.DefineLabel());
        Assert.Throws<InvalidOperationException>(unmarked.Assemble);

        var twice = new EbpfAssembler();
        var label = twice.DefineLabel();
        twice.Mark(label);
        Assert.Throws<InvalidOperationException>(() => twice.Mark(label));

        var fallsOff = new EbpfAssembler();
        fallsOff.MoveImmediate(R0, 0);
        Assert.Throws<InvalidOperationException>(fallsOff.Assemble);

        var pastEnd = new EbpfAssembler();
        var after = pastEnd.DefineLabel();
        pastEnd.Jump(after);
        pastEnd.Exit();
        pastEnd.Mark(after);
        Assert.Throws<InvalidOperationException>(pastEnd.Assemble);

        Assert.Throws<ArgumentOutOfRangeException>(() => new EbpfAssembler().LoadMemory(0x20, R0, R1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new EbpfAssembler().LoadMapFd(R1, -1));
    }

    [Fact]
    public void Listing_of_the_readme_example()
    {
        // src/AspNetQuicSteer.Steering/Kernel/Ebpf/README.md: 8-byte CIDs, generation byte at CID offset 1 masked
        // with CID byte 2.
        var program = ReuseportEbpfProgram.Build(new SteeringField(1, 2), 8, SocketMapFd, ActiveMapFd);
        string listing = EbpfListing.Format(program, new Dictionary<int, string> { [SocketMapFd] = "sockets", [ActiveMapFd] = "active" });
        TestContext.Current.TestOutputHelper?.WriteLine(listing);
        Assert.Equal(
            """
               0: r6 = r1
               1: r2 = *(u32 *)(r6 +16)
               2: if r2 < 0x25 goto pc+21 (24)
               3: r1 = r6
               4: r2 = 8
               5: r3 = r10
               6: r3 += -32
               7: r4 = 4
               8: call bpf_skb_load_bytes#26
               9: if r0 != 0 goto pc+14 (24)
              10: r2 = *(u8 *)(r10 -32)
              11: if r2 & 0x80 goto pc+12 (24)
              12: r2 = *(u8 *)(r10 -30)
              13: r3 = *(u8 *)(r10 -29)
              14: r2 ^= r3
              15: *(u32 *)(r10 -8) = r2
              16: r1 = r6
              17: r2 = map[sockets] ll
              19: r3 = r10
              20: r3 += -8
              21: r4 = 0
              22: call bpf_sk_select_reuseport#82
              23: if r0 == 0 goto pc+16 (40)
              24: *(u32 *)(r10 -8) = 0
              25: r1 = map[active] ll
              27: r2 = r10
              28: r2 += -8
              29: call bpf_map_lookup_elem#1
              30: if r0 == 0 goto pc+9 (40)
              31: r2 = *(u32 *)(r0 +0)
              32: *(u32 *)(r10 -8) = r2
              33: r1 = r6
              34: r2 = map[sockets] ll
              36: r3 = r10
              37: r3 += -8
              38: r4 = 0
              39: call bpf_sk_select_reuseport#82
              40: r0 = 1
              41: exit
            """ + "\n",
            listing);
    }

    public static TheoryData<int, int> Fields => new() { { 0, -1 }, { 3, -1 }, { 7, -1 }, { 1, 2 }, { 5, 0 }, { 0, 7 } };

    [Theory]
    [MemberData(nameof(Fields))]
    public void Every_rule_matches_the_managed_decision(int offset, int maskOffset)
    {
        const int cidLength = 8;
        var field = new SteeringField(offset, maskOffset);
        var program = ReuseportEbpfProgram.Build(field, cidLength, SocketMapFd, ActiveMapFd);
        var run = Interpreter(new Dictionary<GenerationId, string> { [G1] = "g1", [G2] = "g2", [G3] = "g3" }, G3);

        Assert.Equal((SK_PASS, "g3"), run(program, Datagram(0xC3, cidLength, field, G1, 1200)));
        Assert.Equal((SK_PASS, "g1"), run(program, Datagram(0x41, cidLength, field, G1)));
        Assert.Equal((SK_PASS, "g2"), run(program, Datagram(0x41, cidLength, field, G2)));
        Assert.Equal((SK_PASS, "g3"), run(program, Datagram(0x41, cidLength, field, G3)));
        Assert.Equal((SK_PASS, "g3"), run(program, Datagram(0x41, cidLength, field, new GenerationId(0x44))));

        // Every length below 1 + CID + 20 → active; exactly that long → steered.
        byte[] full = Datagram(0x41, cidLength, field, G1);
        for (int length = 0; length < full.Length; length++)
            Assert.Equal((SK_PASS, "g3"), run(program, full[..length]));
        Assert.Equal(1 + cidLength + Steering.Routing.SteeringTable.HeaderProtectionAllowance, full.Length);
        Assert.Equal((SK_PASS, "g1"), run(program, full));
    }

    [Fact]
    public void Random_fields_tables_and_datagrams_match_the_managed_decision() =>
        Gen.Select(
            Gen.Int[1, ReuseportSteeringProgram.MaxConnectionIdLength],
            Gen.Int[0, 64],
            Gen.Dictionary(Gen.Byte, Gen.Int[0, 7])[1, 12],
            Gen.Int[0, 11],
            Gen.Byte.Array[0, 64].Array[1, 24]).Sample((cidLength, offsetSeed, table, activeSeed, payloads) =>
        {
            int offset = offsetSeed % cidLength;
            int maskOffset = cidLength > 1 && offsetSeed % 3 != 0 ? (offset + 1 + offsetSeed / 3 % (cidLength - 1)) % cidLength : -1;
            var field = new SteeringField(offset, maskOffset);
            var program = ReuseportEbpfProgram.Build(field, cidLength, SocketMapFd, ActiveMapFd);

            // Generation → socket (several generations may share a socket index here; the kernel map could not, but
            // the program does not care). The active generation is registered.
            var indexes = table.ToDictionary(entry => new GenerationId(entry.Key), entry => entry.Value);
            var live = indexes.Keys.ToArray();
            var active = live[activeSeed % live.Length];
            var run = Interpreter(indexes.ToDictionary(entry => entry.Key, entry => entry.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)), active);

            for (int i = 0; i < payloads.Length; i++)
            {
                byte[] payload = payloads[i];
                if (payload.Length >= 1 + cidLength && i % 2 == 0)
                {
                    payload[0] &= 0x7f;
                    field.Write(payload.AsSpan(1, cidLength), live[i % live.Length]);
                }

                uint expected = ExpectedSteering.SocketIndex(payload, field, cidLength, indexes[active], indexes);
                var (verdict, selected) = run(program, payload);
                Assert.Equal(SK_PASS, verdict);
                Assert.Equal(expected.ToString(System.Globalization.CultureInfo.InvariantCulture), selected);
            }
        });

    [Fact]
    public void All_256_generations_map_and_an_unregistered_active_selects_nothing()
    {
        var field = new SteeringField(19, 0);
        var program = ReuseportEbpfProgram.Build(field, 20, SocketMapFd, ActiveMapFd);
        var sockets = Enumerable.Range(0, 256).ToDictionary(v => new GenerationId((byte)v), v => "s" + v);
        var run = Interpreter(sockets, new GenerationId(7));
        for (int value = 0; value < 256; value++)
            Assert.Equal((SK_PASS, "s" + value), run(program, Datagram(0x40, 20, field, new GenerationId((byte)value))));

        // The active slot is empty: nothing selected (the kernel then hashes); the program still passes.
        var sparse = Interpreter(new Dictionary<GenerationId, string> { [G1] = "g1" }, G2);
        Assert.Equal((SK_PASS, null), sparse(program, Datagram(0xC0, 20, field, G1, 1200)));
        Assert.Equal((SK_PASS, null), sparse(program, Datagram(0x40, 20, field, G3)));
        Assert.Equal((SK_PASS, "g1"), sparse(program, Datagram(0x40, 20, field, G1)));
        // The longest prefix read: first byte + 20-byte CID.
        Assert.Equal(21, ReuseportEbpfProgram.PrefixLength(field));
    }

    [Fact]
    public void Fields_outside_the_CID_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ReuseportEbpfProgram.Build(new SteeringField(8), 8, 3, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReuseportEbpfProgram.Build(new SteeringField(1, 8), 8, 3, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReuseportEbpfProgram.Build(new SteeringField(1, 1), 8, 3, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReuseportEbpfProgram.Build(new SteeringField(0), 0, 3, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReuseportEbpfProgram.Build(new SteeringField(0), 21, 3, 4));
    }

    private static Func<EbpfInstruction[], byte[], (long, string?)> Interpreter(IReadOnlyDictionary<GenerationId, string> sockets, GenerationId active)
    {
        var interpreter = new EbpfInterpreter();
        interpreter.AddSocketMap(SocketMapFd, sockets.ToDictionary(entry => (uint)entry.Key.Value, entry => entry.Value));
        interpreter.AddArrayMap(ActiveMapFd, active.Value);
        return (program, payload) => interpreter.Run(program, payload);
    }

    private static byte[] Datagram(byte firstByte, int cidLength, SteeringField field, GenerationId generation, int length = 0) =>
        ReuseportSteeringProgramTests.Datagram(firstByte, cidLength, field, generation,
            trailing: length == 0 ? Steering.Routing.SteeringTable.HeaderProtectionAllowance : length - 1 - cidLength);

    private static byte[] Bytes(EbpfInstruction instruction) => MemoryMarshal.AsBytes(new[] { instruction }.AsSpan()).ToArray();
}
