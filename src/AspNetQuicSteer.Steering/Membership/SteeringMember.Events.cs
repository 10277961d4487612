using AspNetQuicSteer.Steering.ConnectionIds;
using AspNetQuicSteer.Steering.Coordination;
using AspNetQuicSteer.Steering.Kernel;
using AspNetQuicSteer.Steering.Routing;

namespace AspNetQuicSteer.Steering.Membership;

internal sealed partial class SteeringMember
{
    private readonly SemaphoreSlim _refreshGate = new(1, 1);
    private string? _programmedFor;
    private bool _socketOrderUnknown;

    /// <summary>Re-reads the group after every broadcast; re-joins (and possibly hosts) when the coordinator's host exited.</summary>
    private async Task FollowCoordinatorAsync(CancellationToken cancellationToken)
    {
        await RefreshAsync(cancellationToken).ConfigureAwait(false);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await foreach (CoordinatorMessage message in _membership.Client.ReadEventsAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (message is ErrorMessage error) Log($"gen{Generation.Value}: coordinator error {error.Code}: {error.Message}");
                    await RefreshAsync(cancellationToken).ConfigureAwait(false);
                }

                if (cancellationToken.IsCancellationRequested) return;
                await RejoinAsync(cancellationToken).ConfigureAwait(false);
                await RefreshAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // the loop must survive a failed refresh or re-join; the next broadcast or attempt retries
            catch (Exception e)
#pragma warning restore CA1031
            {
                Log($"gen{Generation.Value}: following the coordinator failed ({e.GetType().Name}: {e.Message}); retrying");
                await Task.Delay(100, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>
    /// The coordinator's host exited (it is the oldest generation, the first to drain and leave): connect again,
    /// hosting if nobody does, and resume in the state this generation had (coordinator README, takeover).
    /// </summary>
    private async Task RejoinAsync(CancellationToken cancellationToken)
    {
        CoordinatorMembership previous = _membership;
        CoordinatorMembership next = await GenerationCoordinator.ConnectOrHostAsync(_controlPath, _options.Coordinator, cancellationToken).ConfigureAwait(false);
        try
        {
            await next.Client.JoinAsync(
                new JoinMessage(Environment.ProcessId, Generation, _options.AppName, _options.CibirId, Capabilities(Mode), State), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await next.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        _membership = next;
        await previous.DisposeAsync().ConfigureAwait(false);
        Log($"gen{Generation.Value}: re-joined the port's coordinator as {State}" + (next.HostedServer is null ? string.Empty : " (now hosting it)"));
    }

    /// <summary>Rebuilds the table from the coordinator's status and, while active, reprograms the kernel.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await _refreshGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            StatusMessage status = await _membership.Client.GetStatusAsync(cancellationToken).ConfigureAwait(false);
            SteeringTable table = BuildTable(Description, Generation, _options.CibirId, status, null);
            Divert.Table = table;
            foreach (GenerationStatus row in status.Generations)
            {
                if (row.Generation == Generation && row.Pid == Environment.ProcessId) State = row.State;
            }

            // The default app's active generation steers the kernel; CIBIR apps' long headers arrive there and are
            // forwarded (the kernel programs match header form and generation, not CIBIR prefixes).
            if (State == GenerationState.Active && IsDefaultApp) ProgramKernel(status);
        }
        finally
        {
            _refreshGate.Release();
        }

        Changed?.Invoke(this);
    }

    /// <summary>
    /// The active generation steers the group. Classic BPF: the program maps generation → socket index, so it is
    /// rebuilt on every change of the group's socket order (ARCHITECTURE.md §6). eBPF: the socket map is keyed by
    /// generation, so only the active map changes.
    /// </summary>
    private void ProgramKernel(StatusMessage status)
    {
        try
        {
            switch (Mode)
            {
                case SteeringDataplaneMode.ReuseportCbpf:
                    List<GenerationId> order = [.. status.Generations.Where(g => g.State.IsLive()).Select(g => g.Generation)];
                    string key = string.Join(",", order.Select(g => g.Value));
                    if (key == _programmedFor) return;
                    if (_socketOrderUnknown || DetachIfForeignSockets(status))
                    {
                        _programmedFor = key;
                        return;
                    }

                    SteeringField field = SteeringConnectionIdGenerator.PlaintextLayoutField(Description.QuicLb, Description.MaskGeneration);
                    ReuseportSocket.AttachCbpf(Socket, ReuseportSteeringProgram.BuildForJoinOrder(field, Description.ConnectionIdLength, Generation, order));
                    _programmedFor = key;
                    Log($"gen{Generation.Value}: classic BPF steering attached for socket order [{key}]");
                    break;
                case SteeringDataplaneMode.ReuseportEbpf when _ebpf is not null && _ebpf.Active != Generation:
                    _ebpf.SetActive(Generation);
                    Log($"gen{Generation.Value}: eBPF active generation set");
                    break;
            }
        }
#pragma warning disable CA1031 // a refused program leaves the kernel's hash (or the previous program); forwarding still delivers every datagram
        catch (Exception e)
#pragma warning restore CA1031
        {
            Log($"gen{Generation.Value}: programming {Mode.ToDisplayName()} failed ({e.GetType().Name}: {e.Message}); forwarding carries the port");
        }
    }

    /// <summary>
    /// A same-user socket that bound the port with SO_REUSEPORT while the group served sits in the kernel's reuseport
    /// group, unknown to the coordinator. Joiners refuse while it is there (<see cref="UdpPortTable"/>), but the
    /// sockets already in the group cannot: once one of them closes, socket(7) moves the last socket of the group
    /// (possibly the foreign one) into its slot, so the coordinator's order no longer is the kernel's, and a classic
    /// program built from it can name the foreign socket — measured: every new connection went to it. With the order
    /// unknown no index is safe: detach the program for good (this process), so the kernel's SO_REUSEPORT hash and
    /// forwarding carry the port (ARCHITECTURE.md §6: forwarding is the correctness path in every mode). eBPF names
    /// sockets by generation in a map and is not affected.
    /// </summary>
    private bool DetachIfForeignSockets(StatusMessage status)
    {
        try
        {
            UdpPortTable.ThrowIfForeignSockets(SharedEndPoint, Socket, status.Generations.Where(g => g.State.IsLive()).Select(g => g.Pid));
            return false;
        }
        catch (PortSharingException e)
        {
            _socketOrderUnknown = true;
            try
            {
                ReuseportSocket.Detach(Socket);
            }
            catch (ReuseportSocketOptionException)
            {
                // ENOENT: no program was attached
            }

            Log($"gen{Generation.Value}: {e.Message} Its socket holds a slot of the reuseport group that the coordinator does not know, so the group's " +
                "socket order is unknown: classic BPF steering detached; the kernel's hash and forwarding carry the port, and the foreign socket gets " +
                "a share of it until it closes. Replace every generation after stopping it to steer again.");
            return true;
        }
    }

    private async Task ReportLoopAsync(CancellationToken cancellationToken)
    {
        GenerationCounters last = default;
        using var timer = new PeriodicTimer(_options.ReportInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                GenerationCounters now = Counters;
                if (now == last) continue;
                try
                {
                    await _membership.Client.ReportAsync(now, cancellationToken).ConfigureAwait(false);
                    last = now;
                }
                catch (Exception e) when (e is IOException or InvalidOperationException or System.Net.Sockets.SocketException or ObjectDisposedException)
                {
                    // the coordinator is being replaced; the next tick reports again
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
