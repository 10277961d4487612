using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using AspNetQuicSteer.Steering.Coordination;

namespace AspNetQuicSteer.Steering.Tests.Coordination;

/// <summary>The coordinator over real AF_UNIX SOCK_SEQPACKET sockets in a temporary directory.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class GenerationCoordinatorSocketTests : IAsyncDisposable
{
    private static readonly GenerationId G1 = new(1), G2 = new(2), G3 = new(3);

    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("qsteer-");
    private readonly ConcurrentQueue<string> _log = new();
    private readonly List<IAsyncDisposable> _owned = [];

    public GenerationCoordinatorSocketTests()
    {
        SocketPath = Path.Combine(_directory.FullName, "127.0.0.1_5443.sock");
        Options = new GenerationCoordinatorOptions { Probation = TimeSpan.FromSeconds(30), Log = _log.Enqueue };
    }

    private string SocketPath { get; }

    private GenerationCoordinatorOptions Options { get; set; }

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public async ValueTask DisposeAsync()
    {
        for (int i = _owned.Count - 1; i >= 0; i--) await _owned[i].DisposeAsync();
        _directory.Delete(recursive: true);
    }

    private T Own<T>(T disposable)
        where T : IAsyncDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    private GenerationCoordinatorServer StartServer()
    {
        Assert.True(GenerationCoordinatorServer.TryStart(SocketPath, Options, out GenerationCoordinatorServer? server));
        return Own(server);
    }

    private async Task<GenerationCoordinatorClient> ConnectAsync() => Own(await GenerationCoordinatorClient.ConnectAsync(SocketPath, Token));

    private static async Task<CoordinatorMessage> NextEventAsync(GenerationCoordinatorClient client)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Token);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        return await client.Events.ReadAsync(timeout.Token);
    }

    /// <summary>A client that joined, became Ready and was activated.</summary>
    private async Task<GenerationCoordinatorClient> ActiveClientAsync(string app = "shop")
    {
        GenerationCoordinatorClient client = await ConnectAsync();
        await client.JoinAsync(app, Token);
        await client.ReadyAsync(Token);
        await client.ActivateAsync(Token);
        return client;
    }

    [Fact]
    public async Task Two_generations_join_activate_drain_and_exit()
    {
        StartServer();
        GenerationCoordinatorClient first = await ConnectAsync();
        Assert.Equal(Environment.ProcessId, first.ServerCredentials.Pid);
        Assert.Equal(new JoinAcceptedMessage(G1, null, 1), await first.JoinAsync("shop", Token));
        await first.ReadyAsync(Token);
        await first.ActivateAsync(Token);
        Assert.Equal(new ReadyMessage(G1), await NextEventAsync(first));
        Assert.Equal(new ActivateMessage(G1), await NextEventAsync(first));

        GenerationCoordinatorClient second = await ConnectAsync();
        Assert.Equal(new JoinAcceptedMessage(G2, G1, 1), await second.JoinAsync("shop", Token, capabilities: CoordinatorCapabilities.Forwarding));
        await second.ReadyAsync(Token);
        await second.ActivateAsync(Token);

        foreach (GenerationCoordinatorClient client in (GenerationCoordinatorClient[])[first, second])
        {
            Assert.Equal(new ReadyMessage(G2), await NextEventAsync(client));
            Assert.Equal(new ActivateMessage(G2), await NextEventAsync(client));
            Assert.Equal(new DrainMessage(G1), await NextEventAsync(client));
        }

        var final = new GenerationCounters(1, 500, 7, 2);
        await first.ExitedAsync(final, "drained", Token);
        Assert.Equal(new ExitedMessage(G1, ExitKind.Clean, final, "drained"), await NextEventAsync(second));
        Assert.Equal(new ExitedMessage(G1, ExitKind.Clean, final, "drained"), await NextEventAsync(first));
        await first.DisposeAsync(); // after Exited: a normal goodbye, not a crash

        await second.ReportAsync(new GenerationCounters(2, 900, 0, 1), Token);
        StatusMessage status = await second.GetStatusAsync(Token);
        Assert.Equal(G2, status.ActiveGeneration);
        // Live generations first, in socket order; then the history (GenerationCoordinatorState.Snapshot).
        Assert.Equal(
            [
                (G2, Environment.ProcessId, GenerationState.Active, new GenerationCounters(2, 900, 0, 1), "shop"),
                (G1, Environment.ProcessId, GenerationState.Exited, final, "shop"),
            ],
            status.Generations.Select(g => (g.Generation, g.Pid, g.State, g.Counters, g.AppName)));
        Assert.True(second.Events.TryRead(out _) is false, "no Dead/Rollback after a clean exit");
    }

    [Fact]
    public async Task An_observer_reads_the_status_view_without_joining_and_it_matches_the_host_view()
    {
        GenerationCoordinatorServer server = StartServer();
        GenerationCoordinatorClient active = await ActiveClientAsync();
        await active.ReportAsync(new GenerationCounters(4, 123, 45, 6), Token);
        await active.GetStatusAsync(Token); // frames of one connection are handled in order: the report is in

        GenerationCoordinatorClient observer = await ConnectAsync();
        StatusMessage status = await observer.GetStatusAsync(Token);
        GenerationStatus row = Assert.Single(status.Generations);
        Assert.Equal((G1, GenerationState.Active, new GenerationCounters(4, 123, 45, 6)), (row.Generation, row.State, row.Counters));
        Assert.True(status.Now >= row.Since);
        Assert.Equal(status.Generations, server.GetStatus().Generations);
        Assert.Contains("gen1", status.FormatTable(), StringComparison.Ordinal);

        var notJoined = await Assert.ThrowsAsync<InvalidOperationException>(() => observer.ReadyAsync(Token));
        Assert.Contains("Join", notJoined.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refused_requests_are_typed_errors_and_keep_the_connection()
    {
        StartServer();
        GenerationCoordinatorClient client = await ConnectAsync();
        await client.JoinAsync("shop", Token);

        var twice = await Assert.ThrowsAsync<CoordinatorRequestException>(() => client.JoinAsync("shop", Token));
        Assert.Equal(CoordinatorErrorCode.AlreadyJoined, twice.ErrorCode);

        var early = await Assert.ThrowsAsync<CoordinatorRequestException>(() => client.ActivateAsync(Token));
        Assert.Equal(CoordinatorErrorCode.InvalidTransition, early.ErrorCode);
        Assert.Contains("gen1 is Joining", early.Message, StringComparison.Ordinal);

        var unknown = await Assert.ThrowsAsync<CoordinatorRequestException>(() => client.RollbackAsync(new GenerationId(77), Token));
        Assert.Equal(CoordinatorErrorCode.UnknownGeneration, unknown.ErrorCode);

        await client.ReadyAsync(Token); // still connected and served
        Assert.Equal(GenerationState.Ready, (await client.GetStatusAsync(Token)).Find(G1)?.State);
    }

    [Fact]
    public async Task A_client_that_disappears_without_Exited_is_dead_within_a_second_and_its_predecessor_takes_over()
    {
        StartServer();
        GenerationCoordinatorClient first = await ActiveClientAsync();
        GenerationCoordinatorClient second = await ActiveClientAsync();
        Assert.Equal(G2, second.Generation);
        await DrainEventsUntilAsync(first, new DrainMessage(G1));

        var stopwatch = Stopwatch.StartNew();
        await second.DisposeAsync(); // the connection drops, no Exited: a crash as far as the coordinator can tell
        var dead = Assert.IsType<ExitedMessage>(await NextEventAsync(first));
        Assert.Equal(new RollbackMessage(G1, G2), await NextEventAsync(first));
        stopwatch.Stop();

        Assert.Equal((G2, ExitKind.Dead), (dead.Generation, dead.Kind));
        TestContext.Current.TestOutputHelper?.WriteLine($"disposed client: Dead + Rollback seen after {stopwatch.Elapsed.TotalMilliseconds:F1} ms");
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(1), $"crash detected after {stopwatch.Elapsed}");
        StatusMessage status = await first.GetStatusAsync(Token);
        Assert.Equal(G1, status.ActiveGeneration);
        Assert.Equal(GenerationState.Dead, status.Find(G2)?.State);
    }

    [Fact]
    public async Task A_SIGKILLed_process_is_dead_within_a_second_and_rolled_back_from()
    {
        string python = Python();
        StartServer();
        GenerationCoordinatorClient first = await ActiveClientAsync();

        using var child = Process.Start(PythonStart(python, null,
        [
            SocketPath,
            Hex(new JoinMessage(0, null, "shop", [], CoordinatorCapabilities.None)),
            Hex(new ReadyMessage(G2)),
            Hex(new ActivateMessage(G2)),
        ]))!;
        try
        {
            Assert.Equal("ready", await child.StandardOutput.ReadLineAsync(Token));
            await DrainEventsUntilAsync(first, new DrainMessage(G1));
            StatusMessage before = await first.GetStatusAsync(Token);
            Assert.Equal((G2, child.Id), (before.ActiveGeneration!.Value, before.Find(G2)!.Value.Pid)); // SO_PEERCRED pid, not a claimed one

            var stopwatch = Stopwatch.StartNew();
            child.Kill(); // SIGKILL: no chance to say anything; the kernel closes its socket
            var dead = Assert.IsType<ExitedMessage>(await NextEventAsync(first));
            Assert.Equal(new RollbackMessage(G1, G2), await NextEventAsync(first));
            stopwatch.Stop();

            Assert.Equal((G2, ExitKind.Dead), (dead.Generation, dead.Kind));
            Assert.Contains($"pid {child.Id}", dead.Reason, StringComparison.Ordinal);
            TestContext.Current.TestOutputHelper?.WriteLine($"SIGKILL: Dead + Rollback seen after {stopwatch.Elapsed.TotalMilliseconds:F1} ms");
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(1), $"crash detected after {stopwatch.Elapsed}");
            Assert.Equal(G1, (await first.GetStatusAsync(Token)).ActiveGeneration);
        }
        finally
        {
            if (!child.HasExited) child.Kill();
            await child.WaitForExitAsync(Token);
        }
    }

    [Fact]
    public async Task A_process_of_another_uid_is_refused_with_PermissionDenied()
    {
        string python = Python();
        Assert.SkipUnless(CoordinatorInterop.EffectiveUid == 0 && File.Exists("/usr/sbin/runuser"), "needs root and runuser to run a client as nobody");
        GenerationCoordinatorServer server = StartServer();
        GenerationCoordinatorClient member = await ActiveClientAsync();

        // Test only: let nobody reach the socket (search on the directory, write on the socket file), so the
        // refusal under test is the coordinator's SO_PEERCRED check, not the file system's.
        File.SetUnixFileMode(_directory.FullName, (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(SocketPath, (UnixFileMode)0b110_110_110);

        using var child = Process.Start(PythonStart(python, "nobody",
        [
            SocketPath,
            Hex(new JoinMessage(0, null, "intruder", [], CoordinatorCapabilities.None)),
        ]))!;
        string output = await child.StandardOutput.ReadToEndAsync(Token);
        string errors = await child.StandardError.ReadToEndAsync(Token);
        await child.WaitForExitAsync(Token);
        Assert.True(child.ExitCode == 0, $"python as nobody failed: {errors}");

        string[] lines = output.Split('\n');
        var error = Assert.IsType<ErrorMessage>(CoordinatorMessage.Parse(Convert.FromHexString(lines[0])));
        Assert.Equal(CoordinatorErrorCode.PermissionDenied, error.Code);
        Assert.Equal($"control socket {SocketPath} belongs to uid 0; process of uid 65534 may not join", error.Message);
        Assert.Equal("eof", lines[1]); // and the coordinator closed the connection
        Assert.Contains(_log, line => line.Contains("refused pid", StringComparison.Ordinal) && line.Contains("uid 65534", StringComparison.Ordinal));

        StatusMessage status = server.GetStatus();
        Assert.Equal(G1, Assert.Single(status.Generations).Generation); // nothing joined, the member is undisturbed
        Assert.False(member.Closed.IsCompleted);
    }

    [Fact]
    public async Task A_client_refuses_a_coordinator_of_another_uid()
    {
        string python = Python();
        Assert.SkipUnless(CoordinatorInterop.EffectiveUid == 0 && File.Exists("/usr/sbin/runuser"), "needs root and runuser to run a listener as nobody");
        File.SetUnixFileMode(_directory.FullName, (UnixFileMode)0b111_111_111); // test only: nobody may create the socket here
        var start = new ProcessStartInfo("/usr/sbin/runuser") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in (string[])["-u", "nobody", "--", python, "-c",
                     "import socket,sys,time; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.bind(sys.argv[1]); s.listen(4); print('listening', flush=True); time.sleep(600)",
                     SocketPath])
        {
            start.ArgumentList.Add(a);
        }

        using var squatter = Process.Start(start)!;
        try
        {
            Assert.Equal("listening", await squatter.StandardOutput.ReadLineAsync(Token));
            var e = await Assert.ThrowsAsync<CoordinatorRequestException>(() => GenerationCoordinatorClient.ConnectAsync(SocketPath, Token));
            Assert.Equal(CoordinatorErrorCode.PermissionDenied, e.ErrorCode);
            Assert.StartsWith($"control socket {SocketPath} belongs to uid 65534 (pid ", e.Message, StringComparison.Ordinal);
            Assert.EndsWith("process of uid 0 may not join", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            squatter.Kill(entireProcessTree: true);
            await squatter.WaitForExitAsync(Token);
        }
    }

    [Fact]
    public async Task A_stale_socket_file_is_replaced()
    {
        string python = Python();
        using (var stale = Process.Start(new ProcessStartInfo(python) { ArgumentList = { "-c", "import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.bind(sys.argv[1]); s.listen(1)", SocketPath } })!)
        {
            await stale.WaitForExitAsync(Token); // exits without unlinking: the file stays, nobody listens
        }

        Assert.True(File.Exists(SocketPath));
        StartServer();
        Assert.Contains(_log, line => line.Contains("removed stale control socket", StringComparison.Ordinal));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(SocketPath));
        GenerationCoordinatorClient client = await ConnectAsync();
        Assert.Equal(G1, (await client.JoinAsync("shop", Token)).Generation);
    }

    [Fact]
    public async Task A_non_socket_file_at_the_path_is_never_removed()
    {
        await File.WriteAllTextAsync(SocketPath, "precious", Token);
        var e = Assert.Throws<InvalidOperationException>(() => GenerationCoordinatorServer.TryStart(SocketPath, Options, out _));
        Assert.Contains("is not a socket", e.Message, StringComparison.Ordinal);
        Assert.Equal("precious", await File.ReadAllTextAsync(SocketPath, Token));
    }

    [Fact]
    public async Task The_second_process_on_a_port_joins_instead_of_hosting()
    {
        StartServer();
        Assert.False(GenerationCoordinatorServer.TryStart(SocketPath, Options, out GenerationCoordinatorServer? second));
        Assert.Null(second);

        CoordinatorMembership membership = Own(await GenerationCoordinator.ConnectOrHostAsync(SocketPath, Options, Token));
        Assert.Null(membership.HostedServer);
        Assert.Equal(G1, (await membership.Client.JoinAsync("shop", Token)).Generation);
    }

    [Fact]
    public async Task When_the_host_exits_a_member_takes_over_and_the_group_resumes()
    {
        CoordinatorMembership host = await GenerationCoordinator.ConnectOrHostAsync(SocketPath, Options, Token);
        Assert.NotNull(host.HostedServer);
        await host.Client.JoinAsync("shop", Token);
        await host.Client.ReadyAsync(Token);
        await host.Client.ActivateAsync(Token);

        CoordinatorMembership member = Own(await GenerationCoordinator.ConnectOrHostAsync(SocketPath, Options, Token));
        await member.Client.JoinAsync("shop", Token);
        await member.Client.ReadyAsync(Token);
        await member.Client.ActivateAsync(Token);
        await host.Client.ExitedAsync(default, "drained", Token);
        await host.DisposeAsync(); // the oldest generation, which hosted the coordinator, is gone

        await member.Client.Closed.WaitAsync(TimeSpan.FromSeconds(5), Token);
        Assert.False(File.Exists(SocketPath));

        CoordinatorMembership takeover = Own(await GenerationCoordinator.ConnectOrHostAsync(SocketPath, Options, Token));
        Assert.NotNull(takeover.HostedServer);
        JoinAcceptedMessage resumed = await takeover.Client.JoinAsync(
            new JoinMessage(Environment.ProcessId, G2, "shop", [], CoordinatorCapabilities.None, GenerationState.Active), Token);
        Assert.Equal(new JoinAcceptedMessage(G2, G2, 1), resumed);
        Assert.Equal(GenerationState.Active, takeover.HostedServer.GetStatus().Find(G2)?.State);
        Assert.NotEqual(G2, (await (await ConnectAsync()).JoinAsync("shop", Token)).Generation); // a live ID is never handed out twice
    }

    [Fact]
    public async Task Malformed_frames_and_foreign_versions_close_only_that_peer()
    {
        StartServer();
        GenerationCoordinatorClient member = await ActiveClientAsync();

        (CoordinatorMessage reply, bool closed) = await RawExchangeAsync([0x00, 0x01, 0x02]);
        Assert.Equal(CoordinatorErrorCode.MalformedFrame, Assert.IsType<ErrorMessage>(reply).Code);
        Assert.True(closed);

        byte[] version2 = new StatusRequestMessage().ToArray();
        version2[4] = 2;
        (reply, closed) = await RawExchangeAsync(version2);
        var unsupported = Assert.IsType<ErrorMessage>(reply);
        Assert.Equal(CoordinatorErrorCode.UnsupportedVersion, unsupported.Code);
        Assert.Contains("speaks version 1", unsupported.Message, StringComparison.Ordinal);
        Assert.True(closed);

        (reply, closed) = await RawExchangeAsync(new StatusMessage(TimeSpan.Zero, null, []).ToArray());
        Assert.Equal(CoordinatorErrorCode.UnexpectedMessage, Assert.IsType<ErrorMessage>(reply).Code);
        Assert.True(closed);

        byte[] huge = new byte[CoordinatorMessage.MaxFrameLength + 100];
        new StatusRequestMessage().ToArray().CopyTo(huge, 0);
        (reply, closed) = await RawExchangeAsync(huge);
        Assert.Equal(CoordinatorErrorCode.MalformedFrame, Assert.IsType<ErrorMessage>(reply).Code);
        Assert.True(closed);

        Assert.False(member.Closed.IsCompleted);
        Assert.Equal(G1, (await member.GetStatusAsync(Token)).ActiveGeneration);
    }

    [Fact]
    public async Task A_joined_peer_that_sends_garbage_is_closed_and_counts_as_crashed()
    {
        StartServer();
        GenerationCoordinatorClient first = await ActiveClientAsync();
        await DrainEventsUntilAsync(first, new ActivateMessage(G1));

        using var raw = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
        await raw.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(SocketPath), Token);
        await raw.SendAsync(new JoinMessage(1, null, "shop", [], CoordinatorCapabilities.None).ToArray(), Token);
        byte[] buffer = new byte[CoordinatorMessage.MaxFrameLength];
        Assert.IsType<JoinAcceptedMessage>(CoordinatorMessage.Parse(buffer.AsSpan(0, await raw.ReceiveAsync(buffer, Token))));
        await raw.SendAsync("QSTR-garbage"u8.ToArray(), Token);

        var dead = Assert.IsType<ExitedMessage>(await NextEventAsync(first));
        Assert.Equal((G2, ExitKind.Dead), (dead.Generation, dead.Kind));
    }

    [Fact]
    public async Task Fuzzed_frames_from_many_peers_never_take_the_coordinator_down()
    {
        StartServer();
        GenerationCoordinatorClient member = await ActiveClientAsync();
        byte[][] seeds = [.. CoordinatorMessageTests.Samples().Select(m => m.ToArray())];
        var random = new Random(6);
        for (int i = 0; i < 300; i++)
        {
            uint[] edits = [.. Enumerable.Range(0, random.Next(1, 6)).Select(_ => (uint)random.NextInt64(0, uint.MaxValue))];
            byte[] frame = AspNetQuicSteer.Quic.Tests.Packets.Mutations.Apply(seeds[random.Next(seeds.Length)], edits);
            using var raw = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
            await raw.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(SocketPath), Token);
            await raw.SendAsync(frame, Token);
            // Every frame is answered (a reply, an Error, or a broadcast it caused); waiting for it paces the
            // loop below the listen backlog (a full backlog makes connect(2) fail with EAGAIN, unix(7)).
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Token);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            await raw.ReceiveAsync(new byte[CoordinatorMessage.MaxFrameLength], timeout.Token);
        }

        // A mutated frame may be a valid request (a Drain of gen1, a Join): the coordinator may have obeyed it.
        // What must hold is that it is still there, still serving, and hit no bug.
        Assert.False(member.Closed.IsCompleted);
        StatusMessage status = await member.GetStatusAsync(Token);
        Assert.Equal(G1, status.Generations[0].Generation);
        Assert.DoesNotContain(_log, line => line.Contains("BUG", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_peer_that_never_reads_is_cut_off_without_stalling_the_others()
    {
        Options = new GenerationCoordinatorOptions { Log = _log.Enqueue, MaxQueuedFramesPerPeer = 4 };
        StartServer();
        GenerationCoordinatorClient member = await ActiveClientAsync();

        using var raw = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
        await raw.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(SocketPath), Token);
        byte[] request = new StatusRequestMessage().ToArray();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Token);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            while (true) await raw.SendAsync(request, timeout.Token); // never reads: its replies pile up until it is cut off
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown)
        {
        }

        // The server aborts the peer, then logs why: the reset can reach us before the line is written.
        static bool CutOff(string line) => line.Contains("frames queued and not read", StringComparison.Ordinal);
        for (int i = 0; i < 100 && !_log.Any(CutOff); i++) await Task.Delay(50, Token);
        Assert.Contains(_log, CutOff);
        Assert.Equal(G1, (await member.GetStatusAsync(Token)).ActiveGeneration);
    }

    private async Task<(CoordinatorMessage Reply, bool Closed)> RawExchangeAsync(byte[] frame)
    {
        using var raw = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
        raw.SendBufferSize = CoordinatorMessage.MaxFrameLength + 4096;
        await raw.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(SocketPath), Token);
        await raw.SendAsync(frame, Token);
        byte[] buffer = new byte[CoordinatorMessage.MaxFrameLength];
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Token);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        int received = await raw.ReceiveAsync(buffer, timeout.Token);
        CoordinatorMessage reply = CoordinatorMessage.Parse(buffer.AsSpan(0, received));
        bool closed = await raw.ReceiveAsync(buffer, timeout.Token) == 0;
        return (reply, closed);
    }

    private static async Task DrainEventsUntilAsync(GenerationCoordinatorClient client, CoordinatorMessage expected)
    {
        while (!Equals(await NextEventAsync(client), expected))
        {
        }
    }

    private static string Hex(CoordinatorMessage message) => Convert.ToHexString(message.ToArray());

    private static string Python()
    {
        string python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
        try
        {
            using var probe = Process.Start(new ProcessStartInfo(python, "-c pass") { RedirectStandardError = true })!;
            probe.WaitForExit();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Skip("python3 is not installed");
        }

        return python;
    }

    /// <summary>
    /// A minimal coordinator client in Python (another process, possibly another uid): connects, then for each
    /// hex frame sends it and prints nothing until all are answered; prints "ready" and sleeps. As nobody it
    /// sends its one frame and prints the hex of what it receives, then "eof" when the coordinator closes.
    /// </summary>
    private static ProcessStartInfo PythonStart(string python, string? runAs, string[] arguments)
    {
        const string script = """
            import socket, sys, time
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.connect(sys.argv[1])
            if sys.argv[2] == "once":
                try:
                    s.send(bytes.fromhex(sys.argv[3]))
                except OSError:
                    pass
                print(s.recv(65536).hex())
                print("eof" if s.recv(65536) == b"" else "more")
                sys.exit(0)
            for frame in sys.argv[3:]:
                s.send(bytes.fromhex(frame))
                s.recv(65536)
            print("ready", flush=True)
            time.sleep(600)
            """;
        var start = new ProcessStartInfo(runAs is null ? python : "/usr/sbin/runuser")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (runAs is not null)
        {
            foreach (string a in (string[])["-u", runAs, "--", python]) start.ArgumentList.Add(a);
        }

        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(arguments[0]);
        start.ArgumentList.Add(runAs is null ? "steps" : "once");
        foreach (string a in arguments[1..]) start.ArgumentList.Add(a);
        return start;
    }
}
