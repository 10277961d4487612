using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using AspNetQuicSteer.Client;
using AspNetQuicSteer.Steering.Coordination;
using AspNetQuicSteer.TestSupport;

namespace AspNetQuicSteer.Kestrel.Tests.Steering;

/// <summary>
/// Issue 6, the port-sharing matrix (src/AspNetQuicSteer.Steering/Membership/README.md): every way a second process
/// can meet a UDP port that real sample-site generations hold, or hold it first, ends either in correct sharing or in
/// a startup failure whose message names the cause. Each test starts real processes; a refused process exits
/// non-zero with the message in its log, and the processes already serving keep serving.
/// </summary>
[Collection(SharedPortProcesses.Name)]
public sealed partial class PortSharingMatrixTests
{
    private static readonly TimeSpan s_exitTimeout = TimeSpan.FromSeconds(60);

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    /// <summary>Same app, new generation: the new one becomes Active (adopting the port's dataplane), the old one drains, and a new connection reaches the new one.</summary>
    [Theory]
    [InlineData("ReuseportCbpf", "reuseport-cbpf")]
    [InlineData("ReuseportEbpf", "reuseport-ebpf")]
    [InlineData("Forwarding", "forwarding")]
    public async Task Same_app_new_generation_shares_the_port_and_takes_new_connections(string dataplane, string displayName)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "port sharing is Linux-only");
        Assert.SkipWhen(dataplane == "ReuseportEbpf" && !IsRoot, "loading eBPF needs root or CAP_BPF");
        using var port = new SharedPortFixture();
        await using SampleSiteProcess v1 = port.Start("v1", dataplane);
        await v1.WaitForStateAsync("Active");
        Assert.Equal("v1", await GetVersionAsync(port.Port));

        // The new generation asks for nothing in particular (Automatic) and adopts the port's dataplane.
        await using SampleSiteProcess v2 = port.Start("v2", "Automatic");
        await v2.WaitForStateAsync("Active");
        await v1.WaitForStateAsync("Draining");
        Assert.Contains($"in {displayName} mode (adopted from gen{await v1.Generation}", v2.Output, StringComparison.Ordinal);
        for (int i = 0; i < 3; i++) Assert.Equal("v2", await GetVersionAsync(port.Port));
        StatusMessage status = await port.GetStatusAsync();
        Assert.Equal((byte)await v2.Generation, status.ActiveGeneration?.Value);
    }

    /// <summary>Another app (another ApplicationName) without CIBIR: the coordinator refuses its join with PortConflict.</summary>
    [Fact]
    public async Task Different_app_without_CIBIR_is_refused_and_names_the_app_that_holds_the_port()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "port sharing is Linux-only");
        using var port = new SharedPortFixture();
        await using SampleSiteProcess shop = port.Start("shop-v1", "Automatic", applicationName: "shop");
        await shop.WaitForStateAsync("Active");

        await using SampleSiteProcess blog = port.Start("blog-v1", "Automatic", applicationName: "blog");
        string output = await ExpectRefusalAsync(blog);
        Assert.Contains($"UDP 127.0.0.1:{port.Port} cannot be shared (PortConflict): the port is served by app 'shop'", output, StringComparison.Ordinal);
        Assert.Contains($"served by app 'shop' (gen{await shop.Generation}, pid {shop.Pid})", output, StringComparison.Ordinal);
        Assert.Contains("a second app ('blog') can share it only with a CIBIR ID", output, StringComparison.Ordinal);
        Assert.Contains("or it needs another port", output, StringComparison.Ordinal);

        await ExpectStillServingAsync(shop, port);
    }

    /// <summary>A non-QUIC process bound the port without SO_REUSEPORT first: the kernel refuses the bind (EADDRINUSE) and the error names the cause.</summary>
    [Theory]
    [InlineData("Automatic")]
    [InlineData("Forwarding")]
    public async Task Foreign_socket_without_reuseport_makes_a_generation_fail_with_held_outside_the_group(string dataplane)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "port sharing is Linux-only");
        using var port = new SharedPortFixture();
        using var foreign = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        foreign.Bind(port.EndPoint);

        await using SampleSiteProcess site = port.Start("v1", dataplane);
        string output = await ExpectRefusalAsync(site);
        Assert.Contains($"UDP 127.0.0.1:{port.Port} is held by a socket outside the generation group", output, StringComparison.Ordinal);
        Assert.Contains($"'ss -uapn sport = :{port.Port}' names it", output, StringComparison.Ordinal);
        Assert.DoesNotContain(" joined ", output, StringComparison.Ordinal);
    }

    /// <summary>
    /// A non-QUIC socket of the same user bound the port with SO_REUSEPORT before any generation: the kernel lets the
    /// generation's socket into the same reuseport group, so the generation checks /proc/net/udp and refuses, naming the socket.
    /// </summary>
    [Theory]
    [InlineData("ReuseportCbpf")]
    [InlineData("ReuseportEbpf")]
    public async Task Foreign_reuseport_socket_before_the_first_generation_is_named_and_refused(string dataplane)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "port sharing is Linux-only");
        Assert.SkipWhen(dataplane == "ReuseportEbpf" && !IsRoot, "loading eBPF needs root or CAP_BPF");
        using var port = new SharedPortFixture();
        using Socket foreign = BindReuseport(port.EndPoint);

        await using SampleSiteProcess site = port.Start("v1", dataplane);
        string output = await ExpectRefusalAsync(site);
        AssertNamesForeignSocket(output, port.Port, foreign);
    }

    /// <summary>
    /// A same-user SO_REUSEPORT socket that arrives while a generation serves slips into the reuseport group (the
    /// kernel asks nobody); the running generation keeps serving, and the next generation to join finds it and refuses
    /// rather than join a group whose socket order the coordinator no longer knows.
    /// </summary>
    [Theory]
    [InlineData("ReuseportCbpf")]
    [InlineData("ReuseportEbpf")]
    public async Task Foreign_reuseport_socket_after_a_generation_makes_the_next_generation_refuse(string dataplane)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "port sharing is Linux-only");
        Assert.SkipWhen(dataplane == "ReuseportEbpf" && !IsRoot, "loading eBPF needs root or CAP_BPF");
        using var port = new SharedPortFixture();
        await using SampleSiteProcess v1 = port.Start("v1", dataplane);
        await v1.WaitForStateAsync("Active");
        using Socket foreign = BindReuseport(port.EndPoint);

        await using SampleSiteProcess v2 = port.Start("v2", dataplane);
        string output = await ExpectRefusalAsync(v2);
        AssertNamesForeignSocket(output, port.Port, foreign);
        await ExpectStillServingAsync(v1, port);
    }

    /// <summary>
    /// The same foreign socket, then a generation leaves: the kernel moves the group's last socket (the foreign one)
    /// into the leaver's slot (socket(7)), so classic-BPF indexes built from the coordinator's order could name it.
    /// The active generation finds it when it rebuilds, detaches its program (hash and forwarding carry the port) and
    /// logs why, naming the socket.
    /// </summary>
    [Fact]
    public async Task Foreign_reuseport_socket_then_a_generation_exit_detaches_classic_steering_naming_the_socket()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "port sharing is Linux-only");
        using var port = new SharedPortFixture();
        await using SampleSiteProcess v1 = port.Start("v1", "ReuseportCbpf");
        await v1.WaitForStateAsync("Active");
        await using SampleSiteProcess v2 = port.Start("v2", "ReuseportCbpf");
        await v2.WaitForStateAsync("Active");
        using Socket foreign = BindReuseport(port.EndPoint);

        await v1.StopAsync(s_exitTimeout);
        string detached = $"gen{await v2.Generation}: UDP port {port.Port} has 1 socket(s) that belong to no generation of this port";
        string output = await WaitForLogAsync(v2, detached);
        AssertNamesForeignSocket(output, port.Port, foreign);
        Assert.Contains("classic BPF steering detached; the kernel's hash and forwarding carry the port", output, StringComparison.Ordinal);
        Assert.DoesNotContain("classic BPF steering attached for socket order [" + await v2.Generation + "]", output, StringComparison.Ordinal);

        // v1 hosted the coordinator: v2 re-hosts it and re-joins as Active; a status taken in between has no active one.
        StatusMessage status = await port.GetStatusAsync();
        for (int i = 0; i < 50 && status.ActiveGeneration?.Value != (byte)await v2.Generation; i++)
        {
            await Task.Delay(100, TestContext.Current.CancellationToken);
            status = await port.GetStatusAsync();
        }

        Assert.Equal((byte)await v2.Generation, status.ActiveGeneration?.Value);
    }

    /// <summary>The eBPF dataplane names sockets by generation (a socket map), so the same sequence leaves it correct: new connections reach the active generation, none the foreign socket.</summary>
    [Fact]
    public async Task Foreign_reuseport_socket_then_a_generation_exit_leaves_ebpf_steering_correct()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "port sharing is Linux-only");
        Assert.SkipUnless(IsRoot, "loading eBPF needs root or CAP_BPF");
        using var port = new SharedPortFixture();
        await using SampleSiteProcess v1 = port.Start("v1", "ReuseportEbpf");
        await v1.WaitForStateAsync("Active");
        await using SampleSiteProcess v2 = port.Start("v2", "ReuseportEbpf");
        await v2.WaitForStateAsync("Active");
        using Socket foreign = BindReuseport(port.EndPoint);

        await v1.StopAsync(s_exitTimeout);
        for (int i = 0; i < 5; i++) Assert.Equal("v2", await GetVersionAsync(port.Port));
        Assert.Equal(0, foreign.Available);
    }

    /// <summary>
    /// Another user, pointed at the group's steering directory: that directory is the first user's (0700), so the
    /// process cannot even take the join lock, and the error says whose directory it is. Both directions.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Other_user_in_the_groups_steering_directory_is_refused_naming_both_uids(bool nobodyFirst)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "port sharing is Linux-only");
        SkipUnlessCanSwitchUser();
        using var port = new SharedPortFixture();
        using var nobodyDirectory = UserDirectory.Create(UnprivilegedRun.User);
        using var rootCertificates = UserDirectory.Create("root");
        string steering = nobodyFirst ? nobodyDirectory.Path : port.Directory;
        (string? firstUser, string? secondUser) = nobodyFirst ? (UnprivilegedRun.User, (string?)null) : (null, UnprivilegedRun.User);
        string CertificatesOf(string? user) => user is null ? rootCertificates.Path : Path.Combine(nobodyDirectory.Path, "certificates");

        await using SampleSiteProcess first = SampleSiteProcess.Start(
            "v1", port.Port, steering, "ReuseportCbpf", user: firstUser, certificateDirectory: CertificatesOf(firstUser));
        await first.WaitForStateAsync("Active");

        await using SampleSiteProcess second = SampleSiteProcess.Start(
            "v2", port.Port, steering, "ReuseportCbpf", user: secondUser, certificateDirectory: CertificatesOf(secondUser));
        string output = await ExpectRefusalAsync(second);
        uint nobody = UserDirectory.UidOf(UnprivilegedRun.User);
        (uint firstUid, uint secondUid) = nobodyFirst ? (nobody, 0u) : (0u, nobody);
        if (nobodyFirst)
        {
            // Root may open anything, so it reaches the coordinator, which it refuses (SO_PEERCRED, invariant 5).
            Assert.Contains($"UDP 127.0.0.1:{port.Port}: the port's generation group runs as another user: control socket {steering}/127.0.0.1_{port.Port}.sock belongs to uid {firstUid}", output, StringComparison.Ordinal);
            Assert.Contains($"process of uid {secondUid} may not join", output, StringComparison.Ordinal);
        }
        else
        {
            Assert.Contains($"steering directory {steering} belongs to uid {firstUid}", output, StringComparison.Ordinal);
            Assert.Contains($"this process runs as uid {secondUid} and cannot use it", output, StringComparison.Ordinal);
        }

        Assert.Contains("Every generation of a port runs as one user", output, StringComparison.Ordinal);
        Assert.Contains("run this process as that user, or give it another port", output, StringComparison.Ordinal);

        await ExpectStillServingAsync(first, nobodyFirst ? null : port);
    }

    /// <summary>
    /// Another user with its own steering directory (the default: /run/aspnetquicsteer for root,
    /// /tmp/aspnetquicsteer-uid otherwise): a separate group, and the kernel refuses a reuseport bind across uids
    /// (EADDRINUSE), which the error explains. Both directions.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Other_user_with_its_own_steering_directory_gets_address_in_use_naming_the_other_user(bool nobodyFirst)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "port sharing is Linux-only");
        SkipUnlessCanSwitchUser();
        using var port = new SharedPortFixture();
        using var nobodyDirectory = UserDirectory.Create(UnprivilegedRun.User);
        string? firstUser = nobodyFirst ? UnprivilegedRun.User : null;
        string? secondUser = nobodyFirst ? null : UnprivilegedRun.User;
        SampleSiteProcess StartAs(string version, string? user) => user is null
            ? port.Start(version, "ReuseportCbpf")
            : SampleSiteProcess.Start(version, port.Port, nobodyDirectory.Path, "ReuseportCbpf", user: user, certificateDirectory: Path.Combine(nobodyDirectory.Path, "certificates"));

        await using SampleSiteProcess first = StartAs("v1", firstUser);
        await first.WaitForStateAsync("Active");
        await using SampleSiteProcess second = StartAs("v2", secondUser);
        string output = await ExpectRefusalAsync(second);
        Assert.Contains($"UDP 127.0.0.1:{port.Port} is held by a socket outside the generation group", output, StringComparison.Ordinal);
        Assert.Contains("or a process of another user", output, StringComparison.Ordinal);
        await ExpectStillServingAsync(first, nobodyFirst ? null : port);
    }

    /// <summary>Every generation on a port uses one dataplane: a joiner that asks for another one is refused, naming both.</summary>
    [Theory]
    [InlineData("ReuseportCbpf", "reuseport-cbpf", "Forwarding", "forwarding")]
    [InlineData("Forwarding", "forwarding", "ReuseportCbpf", "reuseport-cbpf")]
    [InlineData("ReuseportEbpf", "reuseport-ebpf", "ReuseportCbpf", "reuseport-cbpf")]
    public async Task Generation_asking_for_another_dataplane_is_refused_naming_both(string groupMode, string groupName, string joinerMode, string joinerName)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "port sharing is Linux-only");
        Assert.SkipWhen(groupMode == "ReuseportEbpf" && !IsRoot, "loading eBPF needs root or CAP_BPF");
        using var port = new SharedPortFixture();
        await using SampleSiteProcess v1 = port.Start("v1", groupMode);
        await v1.WaitForStateAsync("Active");

        await using SampleSiteProcess v2 = port.Start("v2", joinerMode);
        string output = await ExpectRefusalAsync(v2);
        Assert.Contains(
            $"The port runs the {groupName} dataplane (gen{await v1.Generation} (pid {v1.Pid}, app 'SampleSite')); this process asked for {joinerName}.",
            output, StringComparison.Ordinal);
        Assert.Contains("configure the same one, or Automatic to adopt it", output, StringComparison.Ordinal);
        await ExpectStillServingAsync(v1, port);
    }

    /// <summary>A process with steering disabled binds the port alone, without SO_REUSEPORT: on a port a group holds, Kestrel reports address in use.</summary>
    [Theory]
    [InlineData("Automatic")]
    [InlineData("Forwarding")]
    public async Task Steering_disabled_on_a_port_a_group_holds_gets_address_in_use(string groupMode)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "port sharing is Linux-only");
        using var port = new SharedPortFixture();
        await using SampleSiteProcess v1 = port.Start("v1", groupMode);
        await v1.WaitForStateAsync("Active");

        await using SampleSiteProcess alone = port.Start("alone", "Disabled");
        string output = await ExpectRefusalAsync(alone);
        Assert.Contains($"Failed to bind to address https://127.0.0.1:{port.Port}: address already in use.", output, StringComparison.Ordinal);
        await ExpectStillServingAsync(v1, port);
    }

    private static bool IsRoot => CoordinatorInterop.EffectiveUid == 0;

    /// <summary>Waits for a refused process to exit; asserts it failed and never joined; returns its log.</summary>
    private static async Task<string> ExpectRefusalAsync(SampleSiteProcess site)
    {
        int exitCode = await site.WaitForExitAsync(s_exitTimeout);
        string output = site.Output;
        TestContext.Current.TestOutputHelper?.WriteLine($"--- {site.Version} exited with {exitCode}:\n{output}");
        Assert.True(exitCode != 0, $"{site.Version} exited with 0:\n{output}");
        Assert.DoesNotContain("is now Active", output, StringComparison.Ordinal);
        return output;
    }

    /// <summary>Waits (bounded) until <paramref name="site"/>'s log contains <paramref name="text"/>; returns the log.</summary>
    private static async Task<string> WaitForLogAsync(SampleSiteProcess site, string text)
    {
        for (int attempt = 0; attempt < 150 && !site.Output.Contains(text, StringComparison.Ordinal); attempt++)
        {
            await Task.Delay(100, Cancellation);
        }

        string output = site.Output;
        Assert.True(output.Contains(text, StringComparison.Ordinal), $"{site.Version} never logged '{text}':\n{output}");
        return output;
    }

    /// <summary>
    /// The generation that held the port still answers new connections and, when its group's status is readable
    /// (<paramref name="port"/>'s directory, this test's user), is still the only live and the active generation.
    /// </summary>
    private static async Task ExpectStillServingAsync(SampleSiteProcess site, SharedPortFixture? port)
    {
        Assert.False(site.HasExited, $"{site.Version} exited:\n{site.Output}");
        Assert.Equal(site.Version, await GetVersionAsync(site.Port));
        if (port is null) return;
        StatusMessage status = await port.GetStatusAsync();
        Assert.Equal((byte)await site.Generation, status.ActiveGeneration?.Value);
        Assert.Single(status.Generations, g => g.State.IsLive());
    }

    /// <summary>GET /hello over HTTP/3 on a new connection; returns the x-app-version of the instance that answered.</summary>
    private static async Task<string> GetVersionAsync(int port)
    {
        using var handler = new QuicSteeringHttp3Handler(new QuicSteeringHttp3HandlerOptions
        {
            ServerCertificateCustomValidationCallback = (_, _, _, _) => true,
            MaxRequestsPerConnection = 1,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            ResponseHeadersTimeout = TimeSpan.FromSeconds(20),
        });
        using var client = new HttpClient(handler)
        {
            BaseAddress = new Uri($"https://127.0.0.1:{port}/"),
            DefaultRequestVersion = HttpVersion.Version30,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = TimeSpan.FromSeconds(30),
        };
        using HttpResponseMessage response = await client.GetAsync(new Uri("/hello", UriKind.Relative), Cancellation);
        response.EnsureSuccessStatusCode();
        string version = Assert.Single(response.Headers.GetValues("x-app-version"));
        Assert.Equal($"Hello from {version} over HTTP/3\n", await response.Content.ReadAsStringAsync(Cancellation));
        return version;
    }

    /// <summary>A plain UDP socket with SO_REUSEPORT (socket(7): SOL_SOCKET = 1, SO_REUSEPORT = 15, set before bind(2)).</summary>
    private static Socket BindReuseport(IPEndPoint endPoint)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.SetRawSocketOption(1, 15, BitConverter.GetBytes(1));
            socket.Bind(endPoint);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static void AssertNamesForeignSocket(string output, int port, Socket foreign)
    {
        // proc(5): /proc/self/fd/N of a socket reads socket:[inode]; /proc/net/udp lists the same inode.
        string link = new FileInfo($"/proc/self/fd/{(int)foreign.Handle}").LinkTarget!;
        string inode = link["socket:[".Length..^1];
        Assert.Contains($"UDP port {port} has 1 socket(s) that belong to no generation of this port: 127.0.0.1:{port} (uid {CoordinatorInterop.EffectiveUid}, inode {inode})", output, StringComparison.Ordinal);
        Assert.Contains("bound it with SO_REUSEPORT", output, StringComparison.Ordinal);
    }

    private static void SkipUnlessCanSwitchUser()
    {
        Assert.SkipUnless(IsRoot, "switching to another user (runuser) needs root; the suite runs as root in CI");
        Assert.SkipUnless(File.Exists("/usr/sbin/runuser") || File.Exists("/sbin/runuser") || File.Exists("/usr/bin/runuser"), "runuser(1) not found");
        Assert.SkipUnless(!OperatingSystem.IsWindows() && UnprivilegedRun.WorldReadable(AppContext.BaseDirectory),
            $"{AppContext.BaseDirectory} is not readable by {UnprivilegedRun.User}; build outside a private directory to run this check");
    }

    /// <summary>A private (0700) temporary directory owned by <c>user</c>.</summary>
    private sealed partial class UserDirectory : IDisposable
    {
        private UserDirectory(string path) => Path = path;

        public string Path { get; }

        public static UserDirectory Create(string user)
        {
            string path = Directory.CreateTempSubdirectory("quicsteer-user-").FullName;
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            (uint uid, uint gid) = IdsOf(user);
            Assert.True(Chown(path, uid, gid) == 0, $"chown {path} to {user} failed: errno {Marshal.GetLastPInvokeError()}");
            return new UserDirectory(path);
        }

        public static uint UidOf(string user) => IdsOf(user).Uid;

        /// <summary>passwd(5): name:password:UID:GID:…</summary>
        private static (uint Uid, uint Gid) IdsOf(string user)
        {
            string[] fields = File.ReadLines("/etc/passwd").Select(line => line.Split(':')).First(f => f[0] == user);
            return (uint.Parse(fields[2], System.Globalization.CultureInfo.InvariantCulture), uint.Parse(fields[3], System.Globalization.CultureInfo.InvariantCulture));
        }

        [LibraryImport("libc", EntryPoint = "chown", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        private static partial int Chown(string path, uint owner, uint group);

        public void Dispose()
        {
            try
            {
                Directory.Delete(Path, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
