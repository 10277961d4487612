using System.Net;
using System.Net.Sockets;
using AspNetQuicSteer.Quic.Endpoint;

namespace AspNetQuicSteer.Sockets.Tests;

/// <summary>
/// The loop's wake-up: with <see cref="QuicEndpointDriverOptions.MaxWait"/> at 30 s, anything that waited for the
/// timeout instead of being woken would blow the (generous, functional) bounds below.
/// </summary>
public sealed class WakeupTests
{
    private static readonly TimeSpan LongMaxWait = TimeSpan.FromSeconds(30);

    /// <summary>Far below <see cref="LongMaxWait"/>, far above what a woken loop needs.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // loopback wake socket + Socket.Select
    public async Task InvokeAsync_wakes_a_loop_that_waits_with_a_30_s_MaxWait(bool portable)
    {
        using QuicEndpointDriver driver = CreateDriver(portable);
        Assert.Equal(!portable && OperatingSystem.IsLinux(), driver.UsesEventFd);
        driver.Start();

        for (int i = 0; i < 20; i++)
        {
            // Let the loop run out of work and block in its wait, then ask it for something.
            await WaitUntilAsleep(driver);
            int value = await driver.InvokeAsync(() => i).WaitAsync(Bound, TestContext.Current.CancellationToken);
            Assert.Equal(i, value);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Wake_runs_a_turn_without_posted_work(bool portable)
    {
        using QuicEndpointDriver driver = CreateDriver(portable);
        int dirty = 0;
        var handled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        driver.TurnHook = () =>
        {
            if (Interlocked.Exchange(ref dirty, 0) != 0) handled.TrySetResult();
        };
        driver.Start();
        await WaitUntilAsleep(driver);

        Volatile.Write(ref dirty, 1); // what a transport does: mark state, then wake the loop to look at it
        driver.Wake();

        await handled.Task.WaitAsync(Bound, TestContext.Current.CancellationToken);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Concurrent_posts_and_invokes_from_several_threads_all_run(bool portable)
    {
        using QuicEndpointDriver driver = CreateDriver(portable);
        driver.Start();
        const int Threads = 4;
        const int PostsPerThread = 5000;
        const int InvokesPerThread = 200;
        long counter = 0; // touched only on the loop thread: a plain increment is enough if the work really runs there

        Task[] producers = new Task[Threads];
        for (int t = 0; t < Threads; t++)
        {
            producers[t] = Task.Run(async () =>
            {
                for (int i = 0; i < PostsPerThread; i++)
                {
                    driver.Post(() => counter++);
                }

                // Sequential round trips: each one finds the loop asleep (or about to be), so every one of them
                // depends on the wake-up handshake; a lost wake-up stalls for the 30 s MaxWait.
                for (int i = 0; i < InvokesPerThread; i++)
                {
                    await driver.InvokeAsync(() => counter++);
                }
            }, TestContext.Current.CancellationToken);
        }

        await Task.WhenAll(producers).WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken);
        long total = await driver.InvokeAsync(() => counter).WaitAsync(Bound, TestContext.Current.CancellationToken);

        Assert.Equal(Threads * (PostsPerThread + InvokesPerThread), total);
        Assert.False(driver.Completion.IsCompleted);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task StopAsync_and_Dispose_wake_the_loop(bool portable)
    {
        QuicEndpointDriver stopped = CreateDriver(portable);
        stopped.Start();
        await WaitUntilAsleep(stopped);
        await stopped.StopAsync().WaitAsync(Bound, TestContext.Current.CancellationToken);
        stopped.Dispose();
        stopped.Wake(); // after Dispose: nothing to wake, must not throw

        QuicEndpointDriver disposed = CreateDriver(portable);
        disposed.Start();
        await WaitUntilAsleep(disposed);
        Task dispose = Task.Run(disposed.Dispose, TestContext.Current.CancellationToken);
        await dispose.WaitAsync(Bound, TestContext.Current.CancellationToken);
        Assert.True(disposed.Completion.IsCompletedSuccessfully);
        disposed.Post(() => { });
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task LoopWakeup_reports_socket_readiness_and_consumes_signals(bool portable)
    {
        using var wakeup = LoopWakeup.Create(preferNative: !portable);
        Assert.Equal(!portable && OperatingSystem.IsLinux(), wakeup.IsNative);
        using Socket socket = SocketTestHelpers.Bind(IPAddress.Loopback);

        // Nothing pending: a short wait times out without readiness.
        Assert.False(wakeup.Wait(socket, forSend: false, 10_000));

        // A signal before the wait ends it at once (without socket readiness) and is consumed by it.
        wakeup.Signal();
        wakeup.Signal();
        Assert.False(await Task.Run(() => wakeup.Wait(socket, forSend: false, -1)).WaitAsync(Bound, TestContext.Current.CancellationToken));
        Assert.False(wakeup.Wait(socket, forSend: false, 10_000));

        // A signal from another thread ends an unbounded wait.
        Task<bool> waiting = Task.Run(() => wakeup.Wait(socket, forSend: false, -1));
        await Task.Delay(20, TestContext.Current.CancellationToken); // usually already blocked; either order must work
        wakeup.Signal();
        Assert.False(await waiting.WaitAsync(Bound, TestContext.Current.CancellationToken));

        // A queued datagram makes the socket readable; an idle UDP socket is writable.
        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        peer.SendTo(new byte[] { 1 }, socket.LocalEndPoint!);
        Assert.True(await Task.Run(() => wakeup.Wait(socket, forSend: false, -1)).WaitAsync(Bound, TestContext.Current.CancellationToken));
        Assert.True(wakeup.Wait(socket, forSend: true, -1));

        wakeup.Dispose();
        wakeup.Signal(); // after Dispose: ignored
    }

    private static QuicEndpointDriver CreateDriver(bool portable)
    {
        var socket = new BatchedUdpSocket(SocketTestHelpers.Bind(IPAddress.Loopback), new BatchedUdpSocketOptions { ForcePortable = portable });
        return new QuicEndpointDriver(socket, new QuicEndpoint(new QuicEndpointOptions()), new QuicEndpointDriverOptions { MaxWait = LongMaxWait });
    }

    /// <summary>Waits until the loop's turn counter stops moving: it is then blocked in its (30 s) wait.</summary>
    private static async Task WaitUntilAsleep(QuicEndpointDriver driver)
    {
        long turns = -1;
        for (int i = 0; i < 100 && driver.Turns != turns; i++)
        {
            turns = driver.Turns;
            await Task.Delay(5, TestContext.Current.CancellationToken);
        }
    }
}
