using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using AspNetQuicSteer.Steering.Forwarding;
using static AspNetQuicSteer.Steering.Tests.Forwarding.ForwardingTestSupport;

namespace AspNetQuicSteer.Steering.Tests.Forwarding;

public sealed class ForwardingEndpointTests : IDisposable
{
    private static readonly GenerationId GenA = new(1);
    private static readonly GenerationId GenB = new(2);
    private static readonly IPEndPoint Client = new(IPAddress.Parse("192.0.2.10"), 50000);
    private static readonly IPEndPoint Dialled = new(IPAddress.Parse("198.51.100.4"), 4433);

    private readonly TempSocketDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Paths_are_derived_from_directory_endpoint_and_generation()
    {
        Assert.Equal("/run/app/0.0.0.0_443.gen3.fwd", ForwardingEndpoint.GetPath("/run/app", new IPEndPoint(IPAddress.Any, 443), new GenerationId(3)));
        Assert.Equal("/run/app/[::]_443.gen255.fwd", ForwardingEndpoint.GetPath("/run/app", new IPEndPoint(IPAddress.IPv6Any, 443), new GenerationId(255)));
        Assert.Equal("/run/app/127.0.0.1_8443.gen0.fwd", ForwardingEndpoint.GetPath("/run/app", new IPEndPoint(IPAddress.Loopback, 8443), new GenerationId(0)));
    }

    [Fact]
    [SupportedOSPlatform("linux")]
    public void Binding_creates_a_private_directory_and_a_private_socket_file()
    {
        SkipUnlessLinux();
        using var a = new ForwardingEndpoint(_dir.Sockets, SharedEndPoint, GenA);
        Assert.Equal(ForwardingEndpoint.GetPath(_dir.Sockets, SharedEndPoint, GenA), a.Path);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_dir.Sockets));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(a.Path));
        a.Dispose();
        Assert.False(File.Exists(a.Path)); // removed on dispose
    }

    [Fact]
    public void A_path_too_long_for_sockaddr_un_is_refused_up_front()
    {
        SkipUnlessLinux();
        string deep = Path.Combine(_dir.Root, new string('d', 100));
        Assert.Throws<ArgumentException>(() => new ForwardingEndpoint(deep, SharedEndPoint, GenA));
        Assert.False(Directory.Exists(deep));
    }

    [Fact]
    public void A_datagram_arrives_at_the_owner_with_its_original_addresses()
    {
        SkipUnlessLinux();
        using var a = new ForwardingEndpoint(_dir.Sockets, SharedEndPoint, GenA);
        using var b = new ForwardingEndpoint(_dir.Sockets, SharedEndPoint, GenB);
        byte[] datagram = Payload(1, 1200);

        Assert.True(a.TrySend(GenB, datagram, Client, Dialled, ecn: 1));
        Assert.True(b.WaitForReceive(5_000_000));
        byte[] buffer = new byte[ForwardedDatagram.MaxPayloadLength];
        Assert.True(b.TryReceive(buffer, out ForwardedDatagramHeader header, out int length));

        Assert.Equal(datagram, buffer[..length]);
        Assert.Equal(Client, header.GetRemoteEndPoint());
        Assert.Equal(Dialled, header.GetLocalEndPoint());
        Assert.Equal((byte)1, header.Ecn);
        Assert.False(b.TryReceive(buffer, out _, out _)); // nothing else queued, and no blocking
        Assert.Equal((1, 0, 1, 0, 0), (a.Forwarded, a.Dropped, b.Received, b.RejectedMalformed, b.RejectedSender));
    }

    [Fact]
    public void The_largest_payload_crosses_the_socket()
    {
        SkipUnlessLinux();
        using var a = new ForwardingEndpoint(_dir.Sockets, SharedEndPoint, GenA);
        using var b = new ForwardingEndpoint(_dir.Sockets, SharedEndPoint, GenB);
        byte[] datagram = Payload(7, ForwardedDatagram.MaxPayloadLength);
        Assert.True(a.TrySend(GenB, datagram, new IPEndPoint(IPAddress.Parse("2001:db8::5"), 443), null));
        byte[] buffer = new byte[ForwardedDatagram.MaxPayloadLength];
        Assert.True(b.WaitForReceive(5_000_000));
        Assert.True(b.TryReceive(buffer, out ForwardedDatagramHeader header, out int length));
        Assert.Equal(datagram, buffer[..length]);
        Assert.Null(header.GetLocalEndPoint());
    }

    [Fact]
    public void An_owner_that_never_existed_is_counted_as_missing()
    {
        SkipUnlessLinux();
        using var a = new ForwardingEndpoint(_dir.Sockets, SharedEndPoint, GenA);
        Assert.False(a.TrySend(new GenerationId(9), [1, 2, 3], Client, Dialled)); // ENOENT
        Assert.Equal(1, a.DroppedOwnerMissing);
        Assert.Equal(1, a.Dropped);
        Assert.Equal(0, a.Forwarded);
    }

    [Fact]
    public void An_owner_that_died_without_cleaning_up_is_counted_as_missing()
    {
        SkipUnlessLinux();
        using var a = new ForwardingEndpoint(_dir.Sockets, SharedEndPoint, GenA);
        // A crashed owner: its socket file remains, nobody is bound to it (connect/sendto → ECONNREFUSED).
        string stale = ForwardingEndpoint.GetPath(_dir.Sockets, SharedEndPoint, GenB);
        // (.NET unlinks the file it bound on Dispose, so bind elsewhere and rename(2) it into place first.)
        using (var dead = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified))
        {
            string elsewhere = Path.Combine(_dir.Root, "dead");
            dead.Bind(new UnixDomainSocketEndPoint(elsewhere));
            File.Move(elsewhere, stale);
        }

        Assert.True(File.Exists(stale));
        Assert.False(a.TrySend(GenB, [1, 2, 3], Client, Dialled));
        Assert.Equal(1, a.DroppedOwnerMissing);

        // Its successor (same generation id) replaces the stale file and is reachable again.
        using var b = new ForwardingEndpoint(_dir.Sockets, SharedEndPoint, GenB);
        Assert.True(a.TrySend(GenB, [1, 2, 3], Client, Dialled));
        Assert.True(b.WaitForReceive(5_000_000));
        Assert.True(b.TryReceive(new byte[16], out _, out int length));
        Assert.Equal(3, length);
    }

    [Fact]
    public void An_owner_that_went_away_is_counted_as_missing_and_nothing_throws()
    {
        SkipUnlessLinux();
        using var a = new ForwardingEndpoint(_dir.Sockets, SharedEndPoint, GenA);
        var b = new ForwardingEndpoint(_dir.Sockets, SharedEndPoint, GenB);
        Assert.True(a.TrySend(GenB, [1], Client, Dialled));
        b.Dispose();
        Assert.False(a.TrySend(GenB, [2], Client, Dialled));
        Assert.Equal((1, 1), (a.Forwarded, a.DroppedOwnerMissing));
    }

    [Fact]
    public void A_second_live_endpoint_for_the_same_generation_is_refused()
    {
        SkipUnlessLinux();
        using var a = new ForwardingEndpoint(_dir.Sockets, SharedEndPoint, GenA);
        Assert.Throws<InvalidOperationException>(() => new ForwardingEndpoint(_dir.Sockets, SharedEndPoint, GenA));
        Assert.True(a.TrySend(GenA, [5], Client, Dialled)); // the first one is untouched (and can even reach itself)
        Assert.True(a.TryReceive(new byte[4], out _, out _));
    }

    [Fact]
    public void A_full_owner_queue_drops_and_counts_without_blocking()
    {
        SkipUnlessLinux();
        using var a = new ForwardingEndpoint(_dir.Sockets, SharedEndPoint, GenA);
        using var b = new ForwardingEndpoint(_dir.Sockets, SharedEndPoint, GenB);
        byte[] datagram = Payload(0, 1200);
        const int Attempts = 2000;
        int accepted = 0;
        for (int i = 0; i < Attempts; i++)
        {
            accepted += a.TrySend(GenB, datagram, Client, Dialled) ? 1 : 0;
        }

        // net.unix.max_dgram_qlen (default 10) or the send buffer stops the flood long before 2000.
        Assert.InRange(accepted, 1, Attempts - 1);
        Assert.Equal(accepted, a.Forwarded);
        Assert.Equal(Attempts - accepted, a.DroppedQueueFull);
        Assert.Equal(0, a.DroppedOwnerMissing + a.DroppedFailed);

        byte[] buffer = new byte[2048];
        int drained = 0;
        while (b.TryReceive(buffer, out _, out _))
        {
            drained++;
        }

        Assert.Equal(accepted, drained); // what was accepted was delivered: the drop happens at the sender, visibly
        Assert.True(a.TrySend(GenB, datagram, Client, Dialled)); // room again
    }

    [Fact]
    public void Malformed_and_oversize_messages_are_skipped_and_counted()
    {
        SkipUnlessLinux();
        using var b = new ForwardingEndpoint(_dir.Sockets, SharedEndPoint, GenB);
        using var a = new ForwardingEndpoint(_dir.Sockets, SharedEndPoint, GenA);
        using var raw = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        var target = new UnixDomainSocketEndPoint(b.Path);
        raw.SendTo(new byte[] { 1, 2, 3 }, target);             // too short
        raw.SendTo(new byte[60], target);                      // no magic
        Assert.True(a.TrySend(GenB, Payload(1, 100), Client, Dialled)); // longer than the receive buffer below
        Assert.True(a.TrySend(GenB, Payload(2, 10), Client, Dialled));  // fits

        byte[] buffer = new byte[32];
        Assert.True(b.TryReceive(buffer, out ForwardedDatagramHeader header, out int length));
        Assert.Equal(Payload(2, 10), buffer[..length]);
        Assert.Equal(Client, header.GetRemoteEndPoint());
        Assert.Equal(3, b.RejectedMalformed);
        Assert.Equal(1, b.Received);
    }

    [Fact]
    public void Invalid_headers_and_oversize_payloads_are_not_sent()
    {
        SkipUnlessLinux();
        using var a = new ForwardingEndpoint(_dir.Sockets, SharedEndPoint, GenA);
        using var b = new ForwardingEndpoint(_dir.Sockets, SharedEndPoint, GenB);
        Assert.False(a.TrySend(GenB, [1], default(ForwardedDatagramHeader)));
        Assert.False(a.TrySend(GenB, new byte[ForwardedDatagram.MaxPayloadLength + 1], Client, Dialled));
        Assert.Equal(2, a.DroppedFailed);
        Assert.False(b.TryReceive(new byte[16], out _, out _));
    }

    [Fact]
    public async Task The_async_wait_signals_without_consuming_and_the_loop_delivers_until_cancelled()
    {
        SkipUnlessLinux();
        using var a = new ForwardingEndpoint(_dir.Sockets, SharedEndPoint, GenA);
        using var b = new ForwardingEndpoint(_dir.Sockets, SharedEndPoint, GenB);
        CancellationToken testToken = TestContext.Current.CancellationToken;

        ValueTask wait = b.WaitForReceiveAsync(testToken);
        Assert.False(wait.IsCompleted);
        Assert.True(a.TrySend(GenB, [42], Client, Dialled));
        await wait.AsTask().WaitAsync(TimeSpan.FromSeconds(5), testToken);
        Assert.True(b.TryReceive(new byte[4], out _, out int length)); // the peek left the datagram queued
        Assert.Equal(1, length);

        var received = new List<byte>();
        var all = new TaskCompletionSource();
        using var stop = new CancellationTokenSource();
        Task loop = b.RunReceiveLoopAsync(new byte[ForwardedDatagram.MaxPayloadLength], (in ForwardedDatagramHeader h, ReadOnlySpan<byte> p) =>
        {
            Assert.Equal(Client, h.GetRemoteEndPoint());
            received.Add(p[0]);
            if (received.Count == 3)
            {
                all.SetResult();
            }
        }, stop.Token);
        for (byte i = 1; i <= 3; i++)
        {
            Assert.True(a.TrySend(GenB, [i], Client, Dialled));
            await Task.Delay(10, testToken);
        }

        await all.Task.WaitAsync(TimeSpan.FromSeconds(5), testToken);
        await stop.CancelAsync();
        await loop.WaitAsync(TimeSpan.FromSeconds(5), testToken); // returns normally on cancellation
        Assert.Equal(new byte[] { 1, 2, 3 }, received);
    }

    [Fact]
    public async Task Disposing_the_endpoint_ends_its_receive_loop()
    {
        SkipUnlessLinux();
        var b = new ForwardingEndpoint(_dir.Sockets, SharedEndPoint, GenB);
        Task loop = b.RunReceiveLoopAsync(new byte[64], (in ForwardedDatagramHeader h, ReadOnlySpan<byte> p) => { }, CancellationToken.None);
        await Task.Delay(50, TestContext.Current.CancellationToken);
        Assert.False(loop.IsCompleted);
        b.Dispose();
        await loop.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.True(loop.IsCompletedSuccessfully);
    }

    /// <summary>
    /// Both access-control layers against a real process of another user (uid 65534 via setpriv(1)): the 0700
    /// directory and the 0600 socket each refuse it (EACCES), and with both opened up the SO_PASSCRED uid check drops
    /// its datagram even though it is well-formed. Root only (to switch users; root itself bypasses file modes).
    /// </summary>
    [Fact]
    [SupportedOSPlatform("linux")]
    public void Another_user_cannot_forward_to_us()
    {
        SkipUnlessLinux();
        Assert.SkipUnless(Environment.UserName == "root" && File.Exists("/usr/bin/setpriv") && File.Exists("/usr/bin/python3"),
            "needs root, setpriv and python3 to act as another user");
        using var b = new ForwardingEndpoint(_dir.Sockets, SharedEndPoint, GenB);
        byte[] message = new byte[ForwardedDatagram.GetLength(4)];
        Assert.True(ForwardedDatagram.TryWrite(message, ForwardedDatagramHeader.Create(Client, Dialled), [1, 2, 3, 4], out _));

        // /tmp/fwdXXXX itself is 0700 from CreateTempSubdirectory; open it so only our layers are under test.
        File.SetUnixFileMode(_dir.Root, (UnixFileMode)0x1ED /* 0755 */);
        Assert.Equal("EACCES", SendAsNobody(b.Path, message)); // the 0700 socket directory
        File.SetUnixFileMode(_dir.Sockets, (UnixFileMode)0x1ED);
        Assert.Equal("EACCES", SendAsNobody(b.Path, message)); // the 0600 socket file
        File.SetUnixFileMode(b.Path, (UnixFileMode)0x1B6 /* 0666 */);
        Assert.Equal("sent", SendAsNobody(b.Path, message));   // the kernel delivers it ...

        Assert.True(b.WaitForReceive(5_000_000));
        Assert.False(b.TryReceive(new byte[16], out _, out _)); // ... and the uid check drops it
        Assert.Equal((0, 1), (b.Received, b.RejectedSender));
    }

    private static string SendAsNobody(string path, byte[] message)
    {
        const string Script =
            "import socket,sys,errno\n" +
            "s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\n" +
            "try:\n s.sendto(bytes.fromhex(sys.argv[2]),sys.argv[1]); print('sent')\n" +
            "except OSError as e: print(errno.errorcode.get(e.errno,str(e.errno)))\n";
        var start = new ProcessStartInfo("/usr/bin/setpriv")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = "/",
        };
        foreach (string argument in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", Script, path, Convert.ToHexString(message) })
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd().Trim();
        string error = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(30_000));
        Assert.True(process.ExitCode == 0, error);
        return output;
    }
}
