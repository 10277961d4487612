using System.Net;
using System.Net.Sockets;
using AspNetQuicSteer.Steering.Kernel;
using AspNetQuicSteer.Steering.Kernel.Ebpf;

namespace AspNetQuicSteer.Steering.Tests.Kernel.Ebpf;

/// <summary>
/// The reuseport-ebpf dataplane on a real reuseport group over loopback (Linux, root). Each socket is registered as a
/// generation; deliveries are counted per generation's socket. eBPF needs root or CAP_BPF here
/// (kernel.unprivileged_bpf_disabled); <see cref="EbpfPrivilegeTests"/> covers the refusal.
/// </summary>
public sealed class EbpfReuseportKernelTests
{
    internal const string NeedsRoot = "eBPF (bpf(2) BPF_PROG_LOAD, REUSEPORT_SOCKARRAY) needs root or CAP_BPF; EbpfPrivilegeTests checks the EPERM refusal";
    private const int CidLength = 8;
    private const int PerKind = 200;
    private static readonly GenerationId G1 = new(0x11), G2 = new(0x22), G3 = new(0x33);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static void Log(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    internal static void SkipUnlessRoot()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "eBPF reuseport steering is Linux-only");
        Assert.SkipUnless(Environment.IsPrivilegedProcess, NeedsRoot);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Long_headers_go_to_the_active_generation_and_short_headers_to_their_own(bool masked, bool ipv6)
    {
        SkipUnlessRoot();
        var field = masked ? new SteeringField(1, 2) : new SteeringField(1);
        using var port = Port.Bind(ipv6 ? IPAddress.IPv6Loopback : IPAddress.Loopback, field, active: G3, G1, G2, G3);

        // RFC 9000 §17.2 long header (0xC3: Initial, 4-byte PN) padded to 1200 bytes (§14.1) → the active generation.
        port.AssertCounts("long header", G3, Many(() => Datagram(0xC3, field, G1, 1200)));
        port.AssertCounts("short g1", G1, Many(() => Datagram(0x41, field, G1)));
        port.AssertCounts("short g2", G2, Many(() => Datagram(0x41, field, G2)));
        port.AssertCounts("short g3 (active)", G3, Many(() => Datagram(0x41, field, G3)));
        port.AssertCounts("short unknown", G3, Many(() => Datagram(0x41, field, Unknown())));
        port.AssertCounts("short g1, 1200 bytes", G1, Many(() => Datagram(0x41, field, G1, 1200)));

        // Shorter than 1 + CID + 20 (RFC 9001 §5.4.2, as the router) → active, whatever it carries; exactly that
        // long → steered. Pins ctx->len = UDP header + payload.
        int minimum = 1 + CidLength + Steering.Routing.SteeringTable.HeaderProtectionAllowance;
        var truncated = Enumerable.Range(0, minimum).SelectMany(length => Enumerable.Repeat(length, 5))
            .Select(length => Datagram(0x41, field, G1, minimum)[..length]).ToList();
        port.AssertCounts("short g1, truncated (0..28 bytes)", G3, truncated);
        port.AssertCounts("short g1, exactly 29 bytes", G1, Many(() => Datagram(0x41, field, G1, minimum)));
    }

    [Fact]
    public void Switching_the_active_generation_is_one_map_update()
    {
        SkipUnlessRoot();
        var field = new SteeringField(1, 2);
        using var port = Port.Bind(IPAddress.Loopback, field, active: G3, G1, G2, G3);
        port.AssertCounts("g3 active, long header", G3, Many(() => Datagram(0xC3, field, G1, 1200)));

        port.Dataplane.SetActive(G1); // no reload, no re-attach
        Assert.Equal(G1, port.Dataplane.Active);
        port.AssertCounts("g1 active, long header", G1, Many(() => Datagram(0xC3, field, G2, 1200)));
        port.AssertCounts("g1 active, short unknown", G1, Many(() => Datagram(0x41, field, Unknown())));
        port.AssertCounts("g1 active, truncated", G1, Many(() => Datagram(0x41, field, G2)[..5]));
        port.AssertCounts("g1 active, short g2", G2, Many(() => Datagram(0x41, field, G2)));
        port.AssertCounts("g1 active, short g3", G3, Many(() => Datagram(0x41, field, G3)));
    }

    [Fact]
    public void Closed_sockets_leave_their_slots_and_socket_order_does_not_matter()
    {
        SkipUnlessRoot();
        var field = new SteeringField(0);
        using var port = Port.Bind(IPAddress.Loopback, field, active: G3, G1, G2, G3);

        // g1 exits: closing index 0 moves the last socket (g3) into slot 0 (__reuseport_detach_sock) — the classic
        // program's indexes would now be stale; the eBPF program names sockets through the map and is unaffected.
        port.Close(G1);
        Assert.False(port.Dataplane.ContainsGeneration(G1)); // the kernel emptied the slot (bpf_sk_reuseport_detach)
        Assert.False(port.Dataplane.RemoveGeneration(G1));
        port.AssertCounts("g1 closed, long header", G3, Many(() => Datagram(0xC3, field, G1, 1200)));
        port.AssertCounts("g1 closed, short g1", G3, Many(() => Datagram(0x41, field, G1)));
        port.AssertCounts("g1 closed, short g2", G2, Many(() => Datagram(0x41, field, G2)));
        port.AssertCounts("g1 closed, short g3", G3, Many(() => Datagram(0x41, field, G3)));

        // g2 drains: its slot is removed explicitly while its socket stays open → its short headers go to the active one.
        Assert.True(port.Dataplane.ContainsGeneration(G2));
        Assert.True(port.Dataplane.RemoveGeneration(G2));
        Assert.False(port.Dataplane.ContainsGeneration(G2));
        port.AssertCounts("g2 removed, short g2", G3, Many(() => Datagram(0x41, field, G2)));

        // ... and it can be put back.
        port.Dataplane.SetGeneration(G2, port.SocketOf(G2));
        port.AssertCounts("g2 re-registered, short g2", G2, Many(() => Datagram(0x41, field, G2)));

        // g2 closes without RemoveGeneration: the kernel empties the slot.
        port.Close(G2);
        Assert.False(port.Dataplane.ContainsGeneration(G2));
        port.AssertCounts("g2 closed, short g2", G3, Many(() => Datagram(0x41, field, G2)));
    }

    [Fact]
    public void Rollover_a_new_generation_binds_registers_and_becomes_active()
    {
        SkipUnlessRoot();
        var field = new SteeringField(3, 0);
        using var port = Port.Bind(IPAddress.Loopback, field, active: G1, G1);
        port.AssertCounts("g1 alone, long header", G1, Many(() => Datagram(0xC3, field, G1, 1200)));

        // g2 binds: it inherits the group's program (socket(7)); unregistered, its short headers go to g1 (active).
        var g2 = port.Join(G2, register: false);
        port.AssertCounts("g2 bound, long header", G1, Many(() => Datagram(0xC3, field, G1, 1200)));
        port.AssertCounts("g2 bound, short g2", G1, Many(() => Datagram(0x41, field, G2)));

        port.Dataplane.SetGeneration(G2, g2);
        port.AssertCounts("g2 registered, short g2", G2, Many(() => Datagram(0x41, field, G2)));
        port.AssertCounts("g2 registered, long header", G1, Many(() => Datagram(0xC3, field, G1, 1200)));

        port.Dataplane.SetActive(G2);
        port.AssertCounts("g2 active, long header", G2, Many(() => Datagram(0xC3, field, G1, 1200)));
        port.AssertCounts("g2 active, short g1", G1, Many(() => Datagram(0x41, field, G1)));

        // The socket the program was attached through (g1's) closes: the program belongs to the group and stays.
        port.Close(G1);
        port.AssertCounts("g1 closed, short g1", G2, Many(() => Datagram(0x41, field, G1)));
        port.AssertCounts("g1 closed, short g2", G2, Many(() => Datagram(0x41, field, G2)));
        port.AssertCounts("g1 closed, long header", G2, Many(() => Datagram(0xC3, field, G1, 1200)));
    }

    [Fact]
    public void An_empty_active_slot_or_a_foreign_socket_falls_back_without_losing_datagrams()
    {
        SkipUnlessRoot();
        var field = new SteeringField(1);
        using var port = Port.Bind(IPAddress.Loopback, field, active: G3, G1, G2, G3);

        // A socket of another port in g2's slot: bpf_sk_select_reuseport refuses a socket of another reuseport group
        // (reuseport_id differs → -EBADFD), so g2's short headers go to the active generation.
        using var foreign = ReuseportSocket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        port.Dataplane.SetGeneration(G2, foreign);
        port.AssertCounts("foreign socket in g2's slot, short g2", G3, Many(() => Datagram(0x41, field, G2)));
        Assert.Equal(0, foreign.Available);

        // Active generation without a socket: nothing selected → the kernel's SO_REUSEPORT hash. Every datagram
        // still arrives (on one socket per client 4-tuple), never dropped.
        port.Dataplane.SetActive(new GenerationId(0x44));
        var hashed = port.Count(Many(() => Datagram(0xC3, field, G1, 1200)));
        Log($"active slot empty, long header → hash: {Format(hashed)}");
        Assert.Equal(PerKind, hashed.Values.Sum());
        Assert.Contains(PerKind, hashed.Values);
        port.AssertCounts("active slot empty, short g1", G1, Many(() => Datagram(0x41, field, G1)));
    }

    [Fact]
    public void Dispose_detaches_the_program_and_the_group_falls_back_to_the_hash()
    {
        SkipUnlessRoot();
        var field = new SteeringField(1);
        using var port = Port.Bind(IPAddress.Loopback, field, active: G3, G1, G2, G3);
        port.AssertCounts("attached, short g1", G1, Many(() => Datagram(0x41, field, G1)));
        port.Dataplane.Dispose();
        port.Dataplane.Dispose(); // idempotent

        // Detached: the hash picks one socket for the single client 4-tuple, whatever the CID says.
        var hashed = port.Count(Many(() => Datagram(0x41, field, G1)));
        Log($"disposed, short g1 → hash: {Format(hashed)}");
        Assert.Contains(PerKind, hashed.Values);
        var none = Assert.Throws<ReuseportSocketOptionException>(() => ReuseportSocket.Detach(port.SocketOf(G1)));
        Assert.Equal(ReuseportSocketOptionException.ENOENT, none.Errno);
        Assert.Throws<ObjectDisposedException>(() => port.Dataplane.SetActive(G1));
    }

    [Fact]
    public void The_kernel_agrees_with_the_interpreter_on_random_datagrams()
    {
        SkipUnlessRoot();
        var field = new SteeringField(4, 6);
        using var port = Port.Bind(IPAddress.Loopback, field, active: G2, G1, G2, G3);
        var interpreter = new EbpfInterpreter();
        interpreter.AddSocketMap(3, new Dictionary<uint, string> { [G1.Value] = G1.ToString(), [G2.Value] = G2.ToString(), [G3.Value] = G3.ToString() });
        interpreter.AddArrayMap(4, G2.Value);
        var program = ReuseportEbpfProgram.Build(field, CidLength, 3, 4);

        var rng = new Random(52);
        var generations = new[] { G1, G2, G3, new GenerationId(0x44) };
        var expected = new Dictionary<string, int> { [G1.ToString()] = 0, [G2.ToString()] = 0, [G3.ToString()] = 0 };
        var datagrams = new List<byte[]>();
        for (int i = 0; i < 400; i++)
        {
            byte[] payload = new byte[rng.Next(0, 64)];
            rng.NextBytes(payload);
            if (payload.Length > CidLength && i % 2 == 0)
            {
                payload[0] &= 0x7f; // short header
                field.Write(payload.AsSpan(1, CidLength), generations[i / 2 % generations.Length]);
            }

            var (verdict, selected) = interpreter.Run(program, payload);
            Assert.Equal(EbpfCodes.SK_PASS, verdict);
            expected[Assert.IsType<string>(selected)]++;
            datagrams.Add(payload);
        }

        var counts = port.Count(datagrams);
        Log($"400 random datagrams: kernel {Format(counts)}, interpreter {Format(expected)}");
        Assert.Equal(expected, counts);
        Assert.All(counts.Values, count => Assert.True(count > 0));
    }

    [Fact]
    public void The_verifier_accepts_the_program_for_every_CID_length_and_field_position()
    {
        SkipUnlessRoot();
        int loaded = 0;
        for (int cidLength = 1; cidLength <= ReuseportSteeringProgram.MaxConnectionIdLength; cidLength++)
        {
            var fields = new List<SteeringField> { new(0), new(cidLength - 1) };
            if (cidLength > 1) fields.AddRange([new(cidLength - 1, 0), new(0, cidLength - 1)]);
            foreach (var field in fields)
            {
                using var dataplane = EbpfReuseportDataplane.Create(field, cidLength, G1);
                loaded++;
            }
        }

        Log($"{loaded} programs loaded (CID lengths 1..20, field and mask at both ends)");
    }

    [Fact]
    public void Kernel_refusals_surface_as_typed_errors()
    {
        SkipUnlessRoot();
        using var dataplane = EbpfReuseportDataplane.Create(new SteeringField(0), CidLength, G1);

        // Not bound at all: not hashed → EINVAL (reuseport_array_update_check).
        using (var unbound = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            var error = Assert.Throws<BpfException>(() => dataplane.SetGeneration(G1, unbound));
            Assert.Equal(BpfException.EINVAL, error.Errno);
            Log(error.Message);
        }

        // Bound without SO_REUSEPORT: no reuseport group → EINVAL for the map and for the attach.
        using (var plain = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            plain.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            var error = Assert.Throws<BpfException>(() => dataplane.SetGeneration(G1, plain));
            Assert.Equal(BpfException.EINVAL, error.Errno);
            error = Assert.Throws<BpfException>(() => dataplane.AttachTo(plain));
            Assert.Equal(BpfException.EINVAL, error.Errno);
            Assert.Contains("SO_ATTACH_REUSEPORT_EBPF", error.Message, StringComparison.Ordinal);
            Log(error.Message);
        }

        // One socket, two slots → EBUSY (sk_user_data already points at a slot).
        using (var member = ReuseportSocket.Bind(new IPEndPoint(IPAddress.Loopback, 0)))
        {
            dataplane.SetGeneration(G1, member);
            var error = Assert.Throws<BpfException>(() => dataplane.SetGeneration(G2, member));
            Assert.Equal(BpfException.EBUSY, error.Errno);
            Log(error.Message);
            Assert.True(dataplane.Holds(G1, member));
            Assert.False(dataplane.Holds(G2, member));
            dataplane.SetGeneration(G1, member); // the same slot again: a no-op (the kernel itself would say EBUSY)
            Assert.True(dataplane.Holds(G1, member));
            Assert.True(dataplane.RemoveGeneration(G1));
            dataplane.SetGeneration(G2, member);  // moving = remove + set
            Assert.True(dataplane.Holds(G2, member));
        }

        // Programs the verifier refuses, with its log in the message: a context field that does not exist for
        // SK_REUSEPORT (4 bytes inside the 8-byte data pointer: sk_reuseport_is_valid_access), and an exit with r0
        // never written. (Reading uninitialised stack would not do: root may, since allow_uninit_stack.)
        var badContext = new EbpfAssembler();
        badContext.LoadMemory(EbpfCodes.BPF_W, EbpfCodes.R0, EbpfCodes.R1, 4);
        badContext.Exit();
        var noResult = new EbpfAssembler();
        noResult.Exit();
        foreach (var (program, expected) in new[] { (badContext, "invalid bpf_context access"), (noResult, "R0 !read_ok") })
        {
            var refused = Assert.Throws<BpfException>(() => BpfSyscall.LoadProgram(
                BpfSyscall.BPF_PROG_TYPE_SK_REUSEPORT, BpfSyscall.BPF_SK_REUSEPORT_SELECT, program.Assemble(), "GPL", "bad"));
            Log(refused.Message);
            Assert.Equal(BpfException.EACCES, refused.Errno);
            Assert.Contains("the verifier rejected the program", refused.Message, StringComparison.Ordinal);
            Assert.Contains("Verifier log:", refused.Message, StringComparison.Ordinal);
            Assert.Contains(expected, refused.VerifierLog, StringComparison.Ordinal);
        }

        // Object names the kernel would refuse (bpf_obj_name_cpy: [A-Za-z0-9_.], < 16) never reach it.
        Assert.Throws<ArgumentException>(() => BpfSyscall.CreateMap(BpfSyscall.BPF_MAP_TYPE_ARRAY, 4, 4, 1, "name-with-dash"));
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

    private static string Format(Dictionary<string, int> counts) =>
        "{" + string.Join(", ", counts.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key}: {c.Value}")) + "}";

    /// <summary>A reuseport group on one loopback port, one socket per generation, steered by an eBPF dataplane.</summary>
    private sealed class Port : IDisposable
    {
        private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(5);
        private readonly ReuseportGroup _group;
        private readonly Socket _client;
        private readonly byte[] _buffer = new byte[2048];
        private readonly Dictionary<GenerationId, Socket> _sockets = [];

        private Port(ReuseportGroup group, Socket client, EbpfReuseportDataplane dataplane)
        {
            _group = group;
            _client = client;
            Dataplane = dataplane;
        }

        public EbpfReuseportDataplane Dataplane { get; }

        public static Port Bind(IPAddress address, SteeringField field, GenerationId active, params GenerationId[] generations)
        {
            var group = ReuseportGroup.Bind(new IPEndPoint(address, 0), generations.Length);
            var client = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            client.Bind(new IPEndPoint(address, 0));
            var port = new Port(group, client, EbpfReuseportDataplane.Create(field, CidLength, active));
            for (int i = 0; i < generations.Length; i++)
            {
                port._sockets[generations[i]] = group.Sockets[i];
                port.Dataplane.SetGeneration(generations[i], group.Sockets[i]);
            }

            port.Dataplane.AttachTo(group.Sockets[0]);
            Log($"{address} port {group.LocalEndPoint.Port}: {string.Join(", ", generations)} registered, {active} active");
            return port;
        }

        public Socket SocketOf(GenerationId generation) => _sockets[generation];

        public Socket Join(GenerationId generation, bool register)
        {
            var socket = _group.Join();
            _sockets[generation] = socket;
            if (register) Dataplane.SetGeneration(generation, socket);
            return socket;
        }

        public void Close(GenerationId generation)
        {
            var socket = _sockets[generation];
            _sockets.Remove(generation);
            _group.Close(_group.Sockets.ToList().IndexOf(socket));
        }

        /// <summary>Deliveries per generation's socket.</summary>
        public Dictionary<string, int> Count(IEnumerable<byte[]> datagrams)
        {
            var members = _group.Sockets.ToList();
            var nameOf = _sockets.ToDictionary(entry => entry.Value, entry => entry.Key.ToString());
            var counts = _sockets.Keys.ToDictionary(generation => generation.ToString(), _ => 0);
            foreach (var datagram in datagrams)
                counts[nameOf[Send(members, datagram)]]++;
            return counts;
        }

        /// <summary>
        /// Sends one datagram and returns the member that received it, checking it arrived intact, from our client,
        /// on exactly one socket (KernelDelivery's logic, for either address family).
        /// </summary>
        private Socket Send(List<Socket> members, byte[] datagram)
        {
            _client.SendTo(datagram, _group.LocalEndPoint);
            var deadline = DateTime.UtcNow + DeliveryTimeout;
            while (true)
            {
                Token.ThrowIfCancellationRequested();
                var readable = members.ToList();
                Socket.Select(readable, null, null, TimeSpan.FromMilliseconds(100));
                if (readable.Count > 0)
                {
                    var receiver = Assert.Single(readable);
                    EndPoint from = new IPEndPoint(_client.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
                    int length = receiver.ReceiveFrom(_buffer, ref from);
                    Assert.Equal(datagram, _buffer.AsSpan(0, length).ToArray());
                    Assert.Equal(_client.LocalEndPoint, from);
                    return receiver;
                }

                if (DateTime.UtcNow > deadline)
                    throw new TimeoutException($"A {datagram.Length}-byte datagram did not arrive on any of {members.Count} sockets.");
            }
        }

        /// <summary>Every datagram arrived at <paramref name="expected"/>'s socket.</summary>
        public void AssertCounts(string what, GenerationId expected, IEnumerable<byte[]> datagrams)
        {
            var list = datagrams.ToList();
            var counts = Count(list);
            Log($"{what}: {Format(counts)}");
            var wanted = _sockets.Keys.ToDictionary(generation => generation.ToString(), generation => generation == expected ? list.Count : 0);
            Assert.Equal(wanted, counts);
        }

        public void Dispose()
        {
            Dataplane.Dispose();
            _client.Dispose();
            _group.Dispose();
        }
    }
}
