using System.Net;
using System.Net.Sockets;
using AspNetQuicSteer.Steering.Kernel;

namespace AspNetQuicSteer.Steering.Tests.Kernel;

/// <summary>
/// The steering program attached to a real reuseport group on 127.0.0.1 (Linux only). Join order = bind order
/// (socket(7)), so <c>group.Sockets[i]</c> is what "return i" selects. <see cref="ReuseportUnprivilegedTests"/> runs
/// this whole class again as user nobody.
/// </summary>
public sealed class ReuseportKernelTests
{
    private const string LinuxOnly = "SO_ATTACH_REUSEPORT_CBPF is a Linux socket option; elsewhere the forwarding dataplane steers";
    private const int CidLength = 8;
    private const int PerKind = 200;
    private static readonly GenerationId G1 = new(0x11), G2 = new(0x22), G3 = new(0x33);

    private static IPEndPoint AnyLoopbackPort => new(IPAddress.Loopback, 0);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static void Log(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Long_headers_go_to_the_active_socket_and_short_headers_to_their_generation(bool masked)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), LinuxOnly);
        Log($"running as {Environment.UserName}");
        var field = masked ? new SteeringField(1, 2) : new SteeringField(1);
        using var group = ReuseportGroup.Bind(AnyLoopbackPort, 3);
        using var client = new KernelDelivery(IPAddress.Loopback);
        // {g1 → 0, g2 → 1, g3 (active) → 2}
        group.Attach(ReuseportSteeringProgram.Build(field, CidLength, 2, new Dictionary<GenerationId, int> { [G1] = 0, [G2] = 1, [G3] = 2 }));

        // RFC 9000 §17.2 long header (0xC3: form 1, fixed bit 1, Initial, 4-byte PN), padded to 1200 bytes (§14.1).
        AssertCounts("long header", [0, 0, PerKind], client.Count(group, Many(() => Datagram(0xC3, field, G1, 1200)), Token));
        AssertCounts("short g1", [PerKind, 0, 0], client.Count(group, Many(() => Datagram(0x41, field, G1)), Token));
        AssertCounts("short g2", [0, PerKind, 0], client.Count(group, Many(() => Datagram(0x41, field, G2)), Token));
        AssertCounts("short g3 (active)", [0, 0, PerKind], client.Count(group, Many(() => Datagram(0x41, field, G3)), Token));
        AssertCounts("short unknown", [0, 0, PerKind], client.Count(group, Many(() => Datagram(0x41, field, Unknown())), Token));

        // Too short for the 8-byte DCID (0..8 payload bytes, first byte a short header, g1 where it fits): the length
        // guard sends them to the active socket — without it the faulting load would return 0 = socket 0 (g1).
        var truncated = Enumerable.Range(0, 1 + CidLength).SelectMany(length => Enumerable.Repeat(length, 20))
            .Select(length => Datagram(0x41, field, G1)[..length]);
        AssertCounts("short, truncated", [0, 0, 20 * (1 + CidLength)], client.Count(group, truncated, Token));
    }

    [Fact]
    public void Closing_a_socket_moves_the_last_into_its_slot_and_a_rebuilt_program_follows()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), LinuxOnly);
        var field = new SteeringField(1, 2);
        using var group = ReuseportGroup.Bind(AnyLoopbackPort, 3);
        using var client = new KernelDelivery(IPAddress.Loopback);
        var order = new ReuseportJoinOrder<GenerationId>();
        foreach (var generation in new[] { G1, G2, G3 }) order.Join(generation);
        group.Attach(ReuseportSteeringProgram.BuildForJoinOrder(field, CidLength, G3, order.Members));

        Socket g2Socket = group.Sockets[1], g3Socket = group.Sockets[2];
        group.Close(0);                      // g1 drained and exited
        order.Leave(0);
        Assert.Same(g3Socket, group.Sockets[0]); // our mirror of socket(7)'s rule; the deliveries below prove the kernel's

        // The stale program (attached through the socket that just closed — the program belongs to the group):
        // "return 0" (g1's packets) now reaches g3's socket, which moved into slot 0 ...
        AssertCounts("stale program, short g1", [PerKind, 0], client.Count(group, Many(() => Datagram(0x41, field, G1)), Token));
        // ... "return 1" still reaches g2 ...
        AssertCounts("stale program, short g2", [0, PerKind], client.Count(group, Many(() => Datagram(0x41, field, G2)), Token));
        // ... and "return 2" (long headers) is past the end of the 2-socket group: the kernel falls back to its hash,
        // which for one client 4-tuple picks one socket — every datagram arrives, but not by our choice.
        var stale = client.Count(group, Many(() => Datagram(0xC3, field, G1, 1200)), Token);
        Log($"stale program, long header (index 2 of 2 → hash): [{string.Join(", ", stale)}]");
        Assert.Equal(PerKind, stale.Sum());
        Assert.Contains(PerKind, stale);

        // Rebuilt from the mirrored join order [g3, g2]: g3 (active) → 0, g2 → 1, g1 retired → active.
        Assert.Equal([G3, G2], order.Members);
        group.Attach(ReuseportSteeringProgram.BuildForJoinOrder(field, CidLength, G3, order.Members));
        AssertCounts("rebuilt, long header", [PerKind, 0], client.Count(group, Many(() => Datagram(0xC3, field, G1, 1200)), Token));
        AssertCounts("rebuilt, short g2", [0, PerKind], client.Count(group, Many(() => Datagram(0x41, field, G2)), Token));
        AssertCounts("rebuilt, short g1 (retired)", [PerKind, 0], client.Count(group, Many(() => Datagram(0x41, field, G1)), Token));
        AssertCounts("rebuilt, short g3", [PerKind, 0], client.Count(group, Many(() => Datagram(0x41, field, G3)), Token));
        Assert.Same(g2Socket, group.Sockets[1]);
    }

    [Fact]
    public void Rollover_a_joining_generation_inherits_the_program_until_it_attaches_its_own()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), LinuxOnly);
        var field = new SteeringField(0);
        var order = new ReuseportJoinOrder<GenerationId>();
        using var client = new KernelDelivery(IPAddress.Loopback);

        // Generation 1 alone: binds, attaches a program where it is active.
        using var group = ReuseportGroup.Bind(AnyLoopbackPort, 1);
        order.Join(G1);
        group.Attach(ReuseportSteeringProgram.BuildForJoinOrder(field, CidLength, G1, order.Members));

        // Generation 2 binds: socket(7) "New sockets added to a reuseport group will inherit the BPF program", so
        // everything still goes to generation 1 until generation 2 attaches its own.
        group.Join();
        order.Join(G2);
        AssertCounts("g2 joined, long header", [PerKind, 0], client.Count(group, Many(() => Datagram(0xC3, field, G1, 1200)), Token));
        AssertCounts("g2 joined, short g2", [PerKind, 0], client.Count(group, Many(() => Datagram(0x40, field, G2)), Token));

        // Generation 2 activates: new connections to it, generation 1's connections stay.
        ReuseportSocket.AttachCbpf(group.Sockets[1], ReuseportSteeringProgram.BuildForJoinOrder(field, CidLength, G2, order.Members));
        AssertCounts("g2 active, long header", [0, PerKind], client.Count(group, Many(() => Datagram(0xC3, field, G1, 1200)), Token));
        AssertCounts("g2 active, short g1", [PerKind, 0], client.Count(group, Many(() => Datagram(0x40, field, G1)), Token));
        AssertCounts("g2 active, short g2", [0, PerKind], client.Count(group, Many(() => Datagram(0x40, field, G2)), Token));
    }

    [Fact]
    public void The_kernel_agrees_with_the_interpreter_on_every_opcode_the_assembler_emits()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), LinuxOnly);
        // A program using every assembler instruction; its result is a socket index 0..3 computed from payload bits.
        var asm = new ClassicBpfAssembler();
        var longEnough = asm.DefineLabel();
        var zero = asm.DefineLabel();
        asm.LoadLength();
        asm.JumpIfGreater(2, longEnough);
        asm.Return(3);                 // 0..2 bytes → 3
        asm.Mark(longEnough);
        asm.LoadAbsoluteHalf(0);       // big-endian 16 bits
        asm.RightShiftConstant(5);
        asm.AndConstant(3);
        asm.TransferAToX();            // X = (ldh[0] >> 5) & 3
        asm.LoadAbsoluteByte(2);
        asm.XorX();
        asm.LoadXImmediate(1);
        asm.XorX();
        asm.XorConstant(2);
        asm.AndConstant(3);            // A = (b2 ^ X ^ 1 ^ 2) & 3
        asm.JumpIfAnySet(0x80, zero);  // never: A < 4 (exercises jset's false path)
        asm.JumpIfEqual(0, zero);
        asm.ReturnA();
        asm.Mark(zero);
        asm.Return(0);
        var program = asm.Assemble();

        using var group = ReuseportGroup.Bind(AnyLoopbackPort, 4);
        using var client = new KernelDelivery(IPAddress.Loopback);
        group.Attach(program);
        var members = group.Sockets.ToList();
        var rng = new Random(51);
        int[] seen = new int[4];
        for (int i = 0; i < 400; i++)
        {
            byte[] payload = new byte[rng.Next(0, 12)];
            rng.NextBytes(payload);
            int expected = (int)ClassicBpfInterpreter.Run(program, payload);
            var receiver = client.Send(group.LocalEndPoint, members, payload, Token);
            Assert.Equal(expected, members.IndexOf(receiver));
            seen[expected]++;
        }

        Log($"kernel = interpreter for 400 random payloads; per socket [{string.Join(", ", seen)}]");
        Assert.All(seen, count => Assert.True(count > 0));
    }

    [Fact]
    public void An_out_of_bounds_load_selects_socket_0_and_an_index_past_the_group_falls_back_to_the_hash()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), LinuxOnly);
        using var group = ReuseportGroup.Bind(AnyLoopbackPort, 3);
        using var client = new KernelDelivery(IPAddress.Loopback);

        // No length guard: byte 8 of a 5-byte payload faults → the program returns 0 → the oldest socket.
        var asm = new ClassicBpfAssembler();
        asm.LoadAbsoluteByte(8);
        asm.Return(2);
        group.Attach(asm.Assemble());
        AssertCounts("unguarded load, 5 bytes", [PerKind, 0, 0], client.Count(group, Many(() => new byte[5]), Token));
        AssertCounts("unguarded load, 9 bytes", [0, 0, PerKind], client.Count(group, Many(() => new byte[9]), Token));

        // socket(7): "If the BPF program returns an invalid index, socket selection will fall back to the plain
        // SO_REUSEPORT mechanism" — nothing is lost.
        var pastEnd = new ClassicBpfAssembler();
        pastEnd.Return(3);
        group.Attach(pastEnd.Assemble());
        var hashed = client.Count(group, Many(() => new byte[20]), Token);
        Log($"return 3 in a 3-socket group → hash: [{string.Join(", ", hashed)}]");
        Assert.Equal(PerKind, hashed.Sum());

        // Detached: also the hash.
        group.Detach();
        Assert.Equal(PerKind, client.Count(group, Many(() => new byte[20]), Token).Sum());
    }

    [Fact]
    public void Kernel_refusals_surface_as_typed_errors()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), LinuxOnly);
        var valid = new ClassicBpfAssembler();
        valid.Return(0);
        var program = valid.Assemble();

        // A bound socket without SO_REUSEPORT has no group (__reuseport_attach_prog → EINVAL).
        using (var plain = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            plain.Bind(AnyLoopbackPort);
            var error = Assert.Throws<ReuseportSocketOptionException>(() => ReuseportSocket.AttachCbpf(plain, program));
            Assert.Equal(ReuseportSocketOptionException.EINVAL, error.Errno);
            Assert.Contains("SO_ATTACH_REUSEPORT_CBPF", error.Message, StringComparison.Ordinal);
            Log(error.Message);

            error = Assert.Throws<ReuseportSocketOptionException>(() => ReuseportSocket.Detach(plain));
            Assert.Equal(ReuseportSocketOptionException.EINVAL, error.Errno);
            Log(error.Message);
        }

        using var group = ReuseportGroup.Bind(AnyLoopbackPort, 1);

        // Programs the classic checker refuses (bpf_check_classic → EINVAL): a jump past the end, an unknown opcode,
        // no final return. Built by hand — the assembler refuses to produce them.
        ClassicBpfInstruction[][] rejected =
        [
            [ClassicBpfInstruction.Jump(0x15, 0, 5, 0), ClassicBpfInstruction.Statement(0x06, 0)],
            [ClassicBpfInstruction.Statement(0xff, 0), ClassicBpfInstruction.Statement(0x06, 0)],
            [ClassicBpfInstruction.Statement(0x80, 0)],
        ];
        foreach (var bad in rejected)
        {
            var error = Assert.Throws<ReuseportSocketOptionException>(() => ReuseportSocket.AttachCbpf(group.Sockets[0], bad));
            Assert.Equal(ReuseportSocketOptionException.EINVAL, error.Errno);
            Assert.Contains("program rejected by the kernel", error.Message, StringComparison.Ordinal);
        }

        Log(Assert.Throws<ReuseportSocketOptionException>(() => ReuseportSocket.AttachCbpf(group.Sockets[0], rejected[0])).Message);

        // Detach with nothing attached: ENOENT (reuseport_detach_prog); then attach and detach succeed.
        var none = Assert.Throws<ReuseportSocketOptionException>(() => ReuseportSocket.Detach(group.Sockets[0]));
        Assert.Equal(ReuseportSocketOptionException.ENOENT, none.Errno);
        Log(none.Message);
        group.Attach(program);
        group.Detach();

        // Lengths outside 1..4096 never reach the kernel.
        Assert.Throws<ArgumentOutOfRangeException>(() => ReuseportSocket.AttachCbpf(group.Sockets[0], []));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReuseportSocket.AttachCbpf(group.Sockets[0], new ClassicBpfInstruction[4097]));
    }

    private static void AssertCounts(string what, int[] expected, int[] actual)
    {
        Log($"{what}: per socket [{string.Join(", ", actual)}]");
        Assert.Equal(expected, actual);
    }

    private static IEnumerable<byte[]> Many(Func<byte[]> make) => Enumerable.Range(0, PerKind).Select(_ => make());

    private static byte[] Datagram(byte firstByte, SteeringField field, GenerationId generation, int length = 1 + CidLength + 24) =>
        ReuseportSteeringProgramTests.Datagram(firstByte, CidLength, field, generation, trailing: length - 1 - CidLength);

    private static GenerationId Unknown()
    {
        byte value;
        do value = (byte)Random.Shared.Next(256);
        while (value is 0x11 or 0x22 or 0x33);
        return new GenerationId(value);
    }
}
