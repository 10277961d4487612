using AspNetQuicSteer.Steering.Kernel;

namespace AspNetQuicSteer.Steering.Coordination;

/// <summary>
/// The generation coordinator's state machine, sans IO: no sockets, no clock (every operation takes
/// <c>now</c>, a monotonic time). Operations either change the table and return the messages to broadcast to every
/// connected peer, or throw <see cref="CoordinatorRequestException"/> and change nothing.
/// <code>
/// operation      from                          to        broadcast
/// Join           (free, Exited, Dead ID)       Joining   (JoinAccepted to the joiner only)
/// Ready          Joining                       Ready     Ready{g}
/// Activate       Ready                         Active    Activate{g}, Drain{previous active}
/// Drain          Ready, Active                 Draining  Drain{g}
/// Rollback       Draining                      Active    Rollback{g, from}, Drain{from}
/// Exited         Joining/Ready/Active/Draining Exited    Exited{g, Clean}
/// peer lost      Joining/Ready/Active/Draining Dead      Exited{g, Dead} [, Rollback{displaced, g}]
/// </code>
/// Exited and Dead rows stay in the table (status history) until their ID is allocated again.
/// </summary>
internal sealed class GenerationCoordinatorState
{
    private readonly Entry?[] _table = new Entry?[256];

    // Live generations in the order they joined, with the kernel's reuseport rule applied on leave: the last one moves
    // into the leaver's slot (PLATFORM.md: closing a socket moves the last one into its slot). Members bind their
    // socket before they join, under the port's join lock, so this is the reuseport group's socket order.
    private readonly ReuseportJoinOrder<byte> _slots = new();
    private byte _lastAllocated;

    /// <param name="probation">
    /// How long after activation a generation whose control connection drops is rolled back from (its predecessor,
    /// if still Draining, becomes Active again). Invariant 6: "fails before or shortly after activation".
    /// </param>
    public GenerationCoordinatorState(TimeSpan probation)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(probation, TimeSpan.Zero);
        Probation = probation;
    }

    public TimeSpan Probation { get; }

    /// <summary>
    /// The active generation of the port's default app (the one without a CIBIR ID), which takes every new
    /// connection no CIBIR rule claims; null when there is none. Each CIBIR app has its own active generation
    /// (<see cref="ActiveOf"/>): activations and rollbacks only ever displace a generation of the same app.
    /// </summary>
    public GenerationId? ActiveGeneration
    {
        get
        {
            foreach (Entry? entry in _table)
            {
                if (entry is { State: GenerationState.Active } && entry.CibirId.Length == 0) return new GenerationId(entry.Id);
            }

            return null;
        }
    }

    /// <summary>The Active generation of <paramref name="appName"/>, or 0.</summary>
    private byte ActiveOf(string appName)
    {
        foreach (Entry? entry in _table)
        {
            if (entry is { State: GenerationState.Active } && string.Equals(entry.AppName, appName, StringComparison.Ordinal)) return entry.Id;
        }

        return 0;
    }

    /// <summary>The state of <paramref name="generation"/>, or null when it is not in the table.</summary>
    public GenerationState? StateOf(GenerationId generation) => _table[generation.Value]?.State;

    /// <summary>
    /// Admits a process: allocates the next free ID after the last one allocated (1..255, wrapping, never a live
    /// one) or takes the requested one if it is not live. A resuming join (after a coordinator takeover) enters
    /// its claimed state directly; claiming Active while another generation is Active is refused.
    /// </summary>
    public JoinAcceptedMessage Join(TimeSpan now, int pid, JoinMessage join)
    {
        ArgumentNullException.ThrowIfNull(join);
        byte id;
        if (join.RequestedGeneration is { } requested)
        {
            if (requested.Value == 0) throw new CoordinatorRequestException(CoordinatorErrorCode.UnknownGeneration, "Generation 0 is reserved (none).");
            if (_table[requested.Value] is { } existing && existing.State.IsLive())
            {
                throw new CoordinatorRequestException(
                    CoordinatorErrorCode.GenerationInUse,
                    $"{requested} is in use by pid {existing.Pid} ({existing.State}).");
            }

            id = requested.Value;
        }
        else
        {
            id = AllocateId();
        }

        GenerationState state = join.ResumeState ?? GenerationState.Joining;
        if (!state.IsLive())
        {
            throw new CoordinatorRequestException(CoordinatorErrorCode.InvalidTransition, $"A join cannot resume into {state}.");
        }

        if (state == GenerationState.Active && ActiveOf(join.AppName) is not 0 and byte already)
        {
            throw new CoordinatorRequestException(
                CoordinatorErrorCode.InvalidTransition,
                $"gen{id} claims Active but gen{already} is already active.");
        }

        CheckPortSharing(join);
        var entry = new Entry(id, pid, join.AppName, state, now) { CibirId = join.CibirId };
        // A resumed activation is not on probation: its rollout happened under the previous coordinator.
        _table[id] = entry;
        if (_slots.IndexOf(id) < 0) _slots.Join(id);
        // A coordinator that took over learns the IDs in use from the re-joins: allocation continues after the newest,
        // so an ID that just left (its CIDs may still be in flight) is not handed out again at once.
        if (join.RequestedGeneration is null || (join.ResumeState is not null && id > _lastAllocated)) _lastAllocated = id;
        return new JoinAcceptedMessage(new GenerationId(id), ActiveGeneration, CoordinatorMessage.ProtocolVersion);
    }

    /// <summary>Joining → Ready.</summary>
    public IReadOnlyList<CoordinatorMessage> Ready(TimeSpan now, GenerationId generation)
    {
        Entry entry = Require(generation, "become Ready", GenerationState.Joining);
        entry.Enter(GenerationState.Ready, now);
        return [new ReadyMessage(generation)];
    }

    /// <summary>
    /// Ready → Active; the previously active generation (if any) → Draining. Broadcast: Activate, then Drain of the
    /// previous one. Re-activating a Draining generation is <see cref="Rollback"/>.
    /// </summary>
    public IReadOnlyList<CoordinatorMessage> Activate(TimeSpan now, GenerationId generation)
    {
        Entry entry = Require(generation, "be activated", GenerationState.Ready);
        byte previous = ActiveOf(entry.AppName);
        entry.Enter(GenerationState.Active, now);
        entry.ProbationUntil = now + Probation;
        entry.Displaced = previous;
        if (previous == 0) return [new ActivateMessage(generation)];
        _table[previous]!.Enter(GenerationState.Draining, now);
        return [new ActivateMessage(generation), new DrainMessage(new GenerationId(previous))];
    }

    /// <summary>Ready or Active → Draining. Draining the Active generation leaves the port without one.</summary>
    public IReadOnlyList<CoordinatorMessage> Drain(TimeSpan now, GenerationId generation)
    {
        Entry entry = Require(generation, "drain", GenerationState.Ready, GenerationState.Active);
        entry.Enter(GenerationState.Draining, now);
        return [new DrainMessage(generation)];
    }

    /// <summary>
    /// Any live state → Exited, with the final counters. A deliberate exit never triggers a rollback, even of an
    /// Active generation on probation: a generation that wants its predecessor back sends Rollback first.
    /// </summary>
    public IReadOnlyList<CoordinatorMessage> Exited(TimeSpan now, GenerationId generation, GenerationCounters counters, string reason)
    {
        Entry entry = Require(generation, "exit", GenerationState.Joining, GenerationState.Ready, GenerationState.Active, GenerationState.Draining);
        entry.Counters = counters;
        entry.Enter(GenerationState.Exited, now);
        LeaveSlot(generation.Value);
        return [new ExitedMessage(generation, ExitKind.Clean, counters, reason)];
    }

    /// <summary>
    /// Explicit rollback: <paramref name="to"/> (Draining) → Active; the current Active generation (if any) →
    /// Draining. Broadcast: Rollback{to, from}, then Drain{from}.
    /// </summary>
    public IReadOnlyList<CoordinatorMessage> Rollback(TimeSpan now, GenerationId to)
    {
        Entry target = Require(to, "be rolled back to", GenerationState.Draining);
        byte from = ActiveOf(target.AppName);
        ReActivate(target, now);
        if (from == 0) return [new RollbackMessage(to, null)];
        _table[from]!.Enter(GenerationState.Draining, now);
        return [new RollbackMessage(to, new GenerationId(from)), new DrainMessage(new GenerationId(from))];
    }

    /// <summary>
    /// The generation's control connection dropped without Exited: a live generation becomes Dead. If it was
    /// Active and activated no more than <see cref="Probation"/> ago, and the generation it displaced is still
    /// Draining, that one becomes Active again. Broadcast: Exited{Dead}, then Rollback{to, from} if rolled back.
    /// Losing an Exited or Dead generation's connection is normal and returns nothing.
    /// </summary>
    public IReadOnlyList<CoordinatorMessage> PeerLost(TimeSpan now, GenerationId generation)
    {
        if (_table[generation.Value] is not { } entry || !entry.State.IsLive()) return [];
        bool wasActive = entry.State == GenerationState.Active;
        entry.Enter(GenerationState.Dead, now);
        LeaveSlot(generation.Value);
        var dead = new ExitedMessage(generation, ExitKind.Dead, entry.Counters, $"control connection of pid {entry.Pid} dropped without Exited");
        if (!wasActive) return [dead];

        if (entry.ProbationUntil is { } until && now <= until
            && entry.Displaced != 0
            && _table[entry.Displaced] is { State: GenerationState.Draining } previous)
        {
            ReActivate(previous, now);
            return [dead, new RollbackMessage(new GenerationId(previous.Id), generation)];
        }

        return [dead];
    }

    /// <summary>Stores a generation's latest counters for the status view (any state; nothing is broadcast).</summary>
    public void Report(GenerationId generation, GenerationCounters counters)
    {
        if (_table[generation.Value] is not { } entry)
        {
            throw new CoordinatorRequestException(CoordinatorErrorCode.UnknownGeneration, $"{generation} is not in the generation table.");
        }

        entry.Counters = counters;
    }

    /// <summary>
    /// The status view: the live generations first, in reuseport socket order (see <see cref="_slots"/>; the
    /// classic BPF program's socket indexes), then the Exited and Dead rows in ID order.
    /// </summary>
    public StatusMessage Snapshot(TimeSpan now)
    {
        var rows = new List<GenerationStatus>();
        foreach (byte id in _slots.Members) rows.Add(StatusOf(_table[id]!));
        foreach (Entry? entry in _table)
        {
            if (entry is null || entry.State.IsLive()) continue;
            rows.Add(StatusOf(entry));
        }

        return new StatusMessage(now, ActiveGeneration, rows);
    }

    /// <summary>
    /// The port-sharing rules (README, port-sharing matrix): generations of one app share a port freely; different
    /// apps only when CIBIR tells their new connections apart (draft-banks-quic-cibir-01 §2.2), so at most one app
    /// on a port has no CIBIR ID, no CIBIR ID may prefix another app's, and one app keeps one CIBIR ID.
    /// </summary>
    private void CheckPortSharing(JoinMessage join)
    {
        foreach (Entry? other in _table)
        {
            if (other is null || !other.State.IsLive()) continue;
            if (string.Equals(other.AppName, join.AppName, StringComparison.Ordinal))
            {
                if (!other.CibirId.AsSpan().SequenceEqual(join.CibirId))
                {
                    throw new CoordinatorRequestException(
                        CoordinatorErrorCode.PortConflict,
                        $"app '{join.AppName}' runs gen{other.Id} (pid {other.Pid}) with CIBIR ID {Hex(other.CibirId)}; every generation of an app needs the same CIBIR ID (asked for {Hex(join.CibirId)}).");
                }

                continue;
            }

            if (other.CibirId.Length == 0 && join.CibirId.Length == 0)
            {
                throw new CoordinatorRequestException(
                    CoordinatorErrorCode.PortConflict,
                    $"the port is served by app '{other.AppName}' (gen{other.Id}, pid {other.Pid}); a second app ('{join.AppName}') can share it only with a CIBIR ID (draft-banks-quic-cibir) that its clients put in their connection IDs, or it needs another port.");
            }

            int common = Math.Min(other.CibirId.Length, join.CibirId.Length);
            if (common > 0 && other.CibirId.AsSpan(0, common).SequenceEqual(join.CibirId.AsSpan(0, common)))
            {
                throw new CoordinatorRequestException(
                    CoordinatorErrorCode.PortConflict,
                    $"CIBIR ID {Hex(join.CibirId)} of app '{join.AppName}' and {Hex(other.CibirId)} of app '{other.AppName}' (gen{other.Id}, pid {other.Pid}) can match the same connection ID; one must not prefix the other.");
            }
        }
    }

    private static string Hex(byte[] id) => id.Length == 0 ? "(none)" : Convert.ToHexString(id);

    private void LeaveSlot(byte id)
    {
        int index = _slots.IndexOf(id);
        if (index >= 0) _slots.Leave(index);
    }

    private static GenerationStatus StatusOf(Entry entry) =>
        new(new GenerationId(entry.Id), entry.Pid, entry.State, entry.Since, entry.Counters, entry.AppName, new AspNetQuicSteer.Quic.Wire.ConnectionId(entry.CibirId));

    private static void ReActivate(Entry target, TimeSpan now)
    {
        target.Enter(GenerationState.Active, now);
        // Taking connections back is not a fresh rollout: no probation, and nothing to roll back to.
        target.ProbationUntil = null;
        target.Displaced = 0;
    }

    private byte AllocateId()
    {
        for (int step = 1; step <= 255; step++)
        {
            byte candidate = (byte)((_lastAllocated + step - 1) % 255 + 1);
            if (_table[candidate] is not { } existing || !existing.State.IsLive()) return candidate;
        }

        throw new CoordinatorRequestException(CoordinatorErrorCode.NoGenerationAvailable, "All 255 generation IDs are live.");
    }

    private Entry Require(GenerationId generation, string action, params ReadOnlySpan<GenerationState> allowed)
    {
        if (generation.Value == 0 || _table[generation.Value] is not { } entry)
        {
            throw new CoordinatorRequestException(CoordinatorErrorCode.UnknownGeneration, $"{generation} is not in the generation table.");
        }

        if (!allowed.Contains(entry.State))
        {
            throw new CoordinatorRequestException(
                CoordinatorErrorCode.InvalidTransition,
                $"{generation} is {entry.State}; only a {string.Join(" or ", allowed.ToArray())} generation can {action}.");
        }

        return entry;
    }

    private sealed class Entry(byte id, int pid, string appName, GenerationState state, TimeSpan since)
    {
        public byte Id { get; } = id;

        public int Pid { get; } = pid;

        public string AppName { get; } = appName;

        public byte[] CibirId { get; init; } = [];

        public GenerationState State { get; private set; } = state;

        public TimeSpan Since { get; private set; } = since;

        /// <summary>Set on activation: until then a dropped control connection rolls back to <see cref="Displaced"/>.</summary>
        public TimeSpan? ProbationUntil { get; set; }

        /// <summary>The generation that was Active when this one was activated (0 = none): the rollback target.</summary>
        public byte Displaced { get; set; }

        public GenerationCounters Counters { get; set; }

        public void Enter(GenerationState next, TimeSpan now)
        {
            State = next;
            Since = now;
        }
    }
}
