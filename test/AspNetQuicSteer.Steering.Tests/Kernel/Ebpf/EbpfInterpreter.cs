using AspNetQuicSteer.Steering.Kernel.Ebpf;
using static AspNetQuicSteer.Steering.Kernel.Ebpf.EbpfCodes;

namespace AspNetQuicSteer.Steering.Tests.Kernel.Ebpf;

/// <summary>
/// Runs an SK_REUSEPORT program the <see cref="EbpfAssembler"/> can emit on a datagram, with the kernel's semantics
/// for the instructions (Documentation/bpf/standardization/instruction-set.rst: 64-bit registers, unsigned JLT,
/// sign-extended immediates, zero-extending loads) and models of the three helpers and two maps the steering program
/// uses. Registers carry a region tag (scalar, ctx, stack, map, map value) so that a pointer misuse, an uninitialised
/// stack read, an unchecked NULL or a context field SK_REUSEPORT does not expose fails loudly, as the verifier would
/// refuse it at load.
/// </summary>
internal sealed class EbpfInterpreter
{
    private const int ENOENT = 2, EFAULT = 14;
    private const int UdpHeaderLength = 8;

    private readonly Dictionary<int, MapModel> _maps = [];

    /// <summary>A REUSEPORT_SOCKARRAY model: slot → socket name.</summary>
    public void AddSocketMap(int fd, IReadOnlyDictionary<uint, string> sockets) => _maps[fd] = new MapModel(sockets, null);

    /// <summary>A one-element u32 ARRAY model.</summary>
    public void AddArrayMap(int fd, uint value) => _maps[fd] = new MapModel(null, value);

    /// <summary>
    /// Runs <paramref name="program"/> for a UDP datagram carrying <paramref name="payload"/>. Returns the verdict (r0)
    /// and the socket <c>bpf_sk_select_reuseport</c> last selected (null: none — the kernel would hash).
    /// </summary>
    public (long Verdict, string? Selected) Run(ReadOnlySpan<EbpfInstruction> program, ReadOnlySpan<byte> payload)
    {
        // skb->data during the socket lookup: the UDP header, then the payload (ctx->len counts both).
        byte[] skb = new byte[UdpHeaderLength + payload.Length];
        payload.CopyTo(skb.AsSpan(UdpHeaderLength));

        var registers = new Value[MaxRegister + 1];
        registers[R1] = new Value(Region.Context, 0);
        registers[R10] = new Value(Region.Stack, StackSize);
        byte[] stack = new byte[StackSize];
        bool[] initialized = new bool[StackSize];
        string? selected = null;

        for (int pc = 0, steps = 0; ; pc++, steps++)
        {
            if (pc < 0 || pc >= program.Length) throw new InvalidOperationException($"pc {pc} left the program.");
            if (steps > 100_000) throw new InvalidOperationException("no exit after 100000 steps.");
            var insn = program[pc];
            byte code = insn.Code;
            int dst = insn.Destination, src = insn.Source;
            long imm = insn.Immediate; // sign-extended, as the ISA says for 64-bit operations

            switch (Class(code))
            {
                case BPF_ALU64:
                {
                    var operand = SourceKind(code) == BPF_X ? Read(registers, src) : Scalar(imm);
                    var current = Operation(code) == BPF_MOV ? default : Read(registers, dst);
                    registers[dst] = Operation(code) switch
                    {
                        BPF_MOV => operand,
                        BPF_ADD when operand.Region == Region.Scalar => current with { Number = current.Number + operand.Number },
                        BPF_AND when current.Region == Region.Scalar && operand.Region == Region.Scalar => Scalar(current.Number & operand.Number),
                        BPF_XOR when current.Region == Region.Scalar && operand.Region == Region.Scalar => Scalar(current.Number ^ operand.Number),
                        _ => throw new InvalidOperationException($"pc {pc}: unsupported or pointer ALU 0x{code:x2}."),
                    };
                    break;
                }

                case BPF_LD when code == (BPF_LD | BPF_DW | BPF_IMM):
                {
                    if (pc + 1 >= program.Length || program[pc + 1] != default)
                        throw new InvalidOperationException($"pc {pc}: ld_imm64 needs an all-zero second half here.");
                    if (src != BPF_PSEUDO_MAP_FD) throw new InvalidOperationException($"pc {pc}: only map fds are supported.");
                    if (!_maps.ContainsKey(insn.Immediate)) throw new InvalidOperationException($"pc {pc}: fd {insn.Immediate} is not a map.");
                    registers[dst] = new Value(Region.Map, insn.Immediate);
                    pc++;
                    break;
                }

                case BPF_LDX when Mode(code) == BPF_MEM:
                {
                    var address = Read(registers, src);
                    int size = Bytes(code);
                    long offset = address.Number + insn.Offset;
                    registers[dst] = address.Region switch
                    {
                        Region.Stack => Scalar(LoadStack(stack, initialized, offset, size, pc)),
                        Region.Context => Scalar(LoadContext(offset, size, skb.Length, pc)),
                        Region.MapValue when offset == 0 && size == 4 => Scalar(_maps[(int)address.Number2].ArrayValue!.Value),
                        _ => throw new InvalidOperationException($"pc {pc}: load from {address.Region}+{offset} size {size}."),
                    };
                    break;
                }

                case BPF_STX or BPF_ST when Mode(code) == BPF_MEM:
                {
                    var address = Read(registers, dst);
                    if (address.Region != Region.Stack) throw new InvalidOperationException($"pc {pc}: store to {address.Region}.");
                    var value = Class(code) == BPF_STX ? Read(registers, src) : Scalar(imm);
                    if (value.Region != Region.Scalar) throw new InvalidOperationException($"pc {pc}: spilling pointers is not modelled.");
                    StoreStack(stack, initialized, address.Number + insn.Offset, Bytes(code), value.Number, pc);
                    break;
                }

                case BPF_JMP:
                {
                    int operation = Operation(code);
                    if (operation == BPF_EXIT)
                        return (Read(registers, R0).Number, selected);
                    if (operation == BPF_CALL)
                    {
                        registers[R0] = Call(insn.Immediate, registers, stack, initialized, skb, ref selected, pc);
                        for (int r = R1; r <= R5; r++) registers[r] = default; // clobbered: reading them again is an error
                        break;
                    }

                    bool taken;
                    if (operation == BPF_JA)
                    {
                        taken = true;
                    }
                    else
                    {
                        if (SourceKind(code) != BPF_K) throw new InvalidOperationException($"pc {pc}: register compares are not used.");
                        var left = Read(registers, dst);
                        if (left.Region is not (Region.Scalar or Region.MapValueOrNull or Region.MapValue))
                            throw new InvalidOperationException($"pc {pc}: compare of a {left.Region}.");
                        ulong a = left.Region == Region.Scalar ? (ulong)left.Number : left.Region == Region.MapValueOrNull ? 0UL : 1UL;
                        ulong b = (ulong)imm;
                        taken = operation switch
                        {
                            BPF_JEQ => a == b,
                            BPF_JNE => a != b,
                            BPF_JLT => a < b,
                            BPF_JSET => (a & b) != 0,
                            _ => throw new InvalidOperationException($"pc {pc}: jump 0x{code:x2}."),
                        };

                        // A NULL check turns "map value or NULL" into a map value on the non-NULL branch.
                        if (left.Region is Region.MapValueOrNull or Region.MapValue && operation is BPF_JEQ or BPF_JNE && b == 0)
                        {
                            bool isNull = left.Number2 < 0;
                            taken = operation == BPF_JEQ ? isNull : !isNull;
                            registers[dst] = isNull ? Scalar(0) : left with { Region = Region.MapValue };
                        }
                    }

                    if (taken) pc += insn.Offset;
                    break;
                }

                default:
                    throw new InvalidOperationException($"pc {pc}: opcode 0x{code:x2} is not modelled.");
            }
        }
    }

    private Value Call(int helper, Value[] registers, byte[] stack, bool[] initialized, byte[] skb, ref string? selected, int pc)
    {
        switch (helper)
        {
            case BPF_FUNC_skb_load_bytes:
            {
                // long bpf_skb_load_bytes(ctx, u32 offset, void *to, u32 len): -EFAULT (buffer zeroed) when out of range.
                Expect(registers[R1], Region.Context, pc);
                long offset = Expect(registers[R2], Region.Scalar, pc).Number;
                var to = Expect(registers[R3], Region.Stack, pc);
                long length = Expect(registers[R4], Region.Scalar, pc).Number;
                if (length is < 1 or > StackSize) throw new InvalidOperationException($"pc {pc}: bad length {length}.");
                bool inRange = offset >= 0 && offset + length <= skb.Length;
                for (int i = 0; i < length; i++)
                    StoreStack(stack, initialized, to.Number + i, 1, inRange ? skb[offset + i] : 0, pc);
                return Scalar(inRange ? 0 : -EFAULT);
            }

            case BPF_FUNC_map_lookup_elem:
            {
                var map = Expect(registers[R1], Region.Map, pc);
                var key = Expect(registers[R2], Region.Stack, pc);
                var model = _maps[(int)map.Number];
                if (model.ArrayValue is null) throw new InvalidOperationException($"pc {pc}: lookup in a socket map from a program.");
                uint index = (uint)LoadStack(stack, initialized, key.Number, 4, pc);
                return new Value(Region.MapValueOrNull, 0, index == 0 ? map.Number : -1);
            }

            case BPF_FUNC_sk_select_reuseport:
            {
                // long bpf_sk_select_reuseport(ctx, map, void *key, u64 flags): 0, or -ENOENT for an empty slot.
                Expect(registers[R1], Region.Context, pc);
                var map = Expect(registers[R2], Region.Map, pc);
                var key = Expect(registers[R3], Region.Stack, pc);
                Expect(registers[R4], Region.Scalar, pc);
                var sockets = _maps[(int)map.Number].Sockets ?? throw new InvalidOperationException($"pc {pc}: select from a non-socket map.");
                uint index = (uint)LoadStack(stack, initialized, key.Number, 4, pc);
                if (!sockets.TryGetValue(index, out var socket)) return Scalar(-ENOENT);
                selected = socket;
                return Scalar(0);
            }

            default:
                throw new InvalidOperationException($"pc {pc}: helper {helper} is not available to SK_REUSEPORT in this model.");
        }
    }

    // struct sk_reuseport_md: only len (u32 at 16) is used; data/data_end (direct packet access) are not modelled.
    private static long LoadContext(long offset, int size, int skbLength, int pc) =>
        offset == ReuseportEbpfProgram.ContextLengthOffset && size == 4
            ? skbLength
            : throw new InvalidOperationException($"pc {pc}: context access at {offset} size {size}.");

    private static long LoadStack(byte[] stack, bool[] initialized, long offset, int size, int pc)
    {
        if (offset < 0 || offset + size > StackSize) throw new InvalidOperationException($"pc {pc}: stack access at fp{offset - StackSize}.");
        long value = 0;
        for (int i = size - 1; i >= 0; i--)
        {
            if (!initialized[offset + i]) throw new InvalidOperationException($"pc {pc}: read of uninitialised stack at fp{offset + i - StackSize}.");
            value = (value << 8) | stack[offset + i]; // little-endian
        }

        return value;
    }

    private static void StoreStack(byte[] stack, bool[] initialized, long offset, int size, long value, int pc)
    {
        if (offset < 0 || offset + size > StackSize) throw new InvalidOperationException($"pc {pc}: stack access at fp{offset - StackSize}.");
        for (int i = 0; i < size; i++)
        {
            stack[offset + i] = (byte)(value >> (8 * i));
            initialized[offset + i] = true;
        }
    }

    private static int Bytes(byte code) => Size(code) switch
    {
        BPF_B => 1,
        BPF_H => 2,
        BPF_W => 4,
        _ => 8,
    };

    private static Value Read(Value[] registers, int register) =>
        register is >= 0 and <= MaxRegister && registers[register].Region != Region.Uninitialized
            ? registers[register]
            : throw new InvalidOperationException($"r{register} is read before it is written (or after a call clobbered it).");

    private static Value Expect(Value value, Region region, int pc) =>
        value.Region == region ? value : throw new InvalidOperationException($"pc {pc}: helper argument is {value.Region}, expected {region}.");

    private static Value Scalar(long number) => new(Region.Scalar, number);

    private enum Region
    {
        Uninitialized,
        Scalar,
        Context,
        Stack,
        Map,
        MapValueOrNull,
        MapValue,
    }

    /// <param name="Region">What the register holds.</param>
    /// <param name="Number">Scalar value or offset into the region (stack: from its bottom; r10 = 512).</param>
    /// <param name="Number2">Map values: the map fd, or -1 for NULL.</param>
    private readonly record struct Value(Region Region, long Number, long Number2 = 0);

    private sealed record MapModel(IReadOnlyDictionary<uint, string>? Sockets, uint? ArrayValue);
}
