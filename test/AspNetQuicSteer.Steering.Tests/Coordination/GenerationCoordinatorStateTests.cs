using AspNetQuicSteer.Steering.Coordination;

namespace AspNetQuicSteer.Steering.Tests.Coordination;

public sealed class GenerationCoordinatorStateTests
{
    private static readonly TimeSpan Probation = TimeSpan.FromSeconds(30);
    private static readonly GenerationId G1 = new(1), G2 = new(2), G3 = new(3);
    private static readonly GenerationCounters Counters = new(2, 10, 5, 1);

    private static TimeSpan T(double seconds) => TimeSpan.FromSeconds(seconds);

    private static JoinMessage Fresh(GenerationId? requested = null) => new(0, requested, "app", [], CoordinatorCapabilities.None);

    private static JoinMessage Resume(GenerationId generation, GenerationState state) => new(0, generation, "app", [], CoordinatorCapabilities.None, state);

    private static GenerationId JoinOne(GenerationCoordinatorState state, TimeSpan now, int pid = 100) => state.Join(now, pid, Fresh()).Generation;

    /// <summary>A coordinator whose gen1 is in <paramref name="target"/> (gen2 Active when gen1 had to be displaced).</summary>
    private static GenerationCoordinatorState With(GenerationState target)
    {
        var state = new GenerationCoordinatorState(Probation);
        JoinOne(state, T(0));
        switch (target)
        {
            case GenerationState.Ready:
                state.Ready(T(1), G1);
                break;
            case GenerationState.Active:
                state.Ready(T(1), G1);
                state.Activate(T(2), G1);
                break;
            case GenerationState.Draining:
                state.Ready(T(1), G1);
                state.Activate(T(2), G1);
                state.Drain(T(3), G1);
                break;
            case GenerationState.Exited:
                state.Exited(T(1), G1, default, "bye");
                break;
            case GenerationState.Dead:
                state.PeerLost(T(1), G1);
                break;
        }

        Assert.Equal(target, state.StateOf(G1));
        return state;
    }

    public static TheoryData<string, int> Transitions()
    {
        var data = new TheoryData<string, int>();
        foreach (string op in (string[])["Ready", "Activate", "Drain", "Exited", "Rollback"])
        {
            foreach (GenerationState from in Enum.GetValues<GenerationState>()) data.Add(op, (int)from);
        }

        return data;
    }

    /// <summary>Every operation from every state: allowed ones land in their target state, the rest throw InvalidTransition and change nothing.</summary>
    [Theory]
    [MemberData(nameof(Transitions))]
    public void Every_operation_from_every_state(string op, int fromState)
    {
        var from = (GenerationState)fromState;
        (GenerationState[] allowed, GenerationState to) = op switch
        {
            "Ready" => ([GenerationState.Joining], GenerationState.Ready),
            "Activate" => ([GenerationState.Ready], GenerationState.Active),
            "Drain" => ([GenerationState.Ready, GenerationState.Active], GenerationState.Draining),
            "Exited" => ([GenerationState.Joining, GenerationState.Ready, GenerationState.Active, GenerationState.Draining], GenerationState.Exited),
            "Rollback" => ((GenerationState[])[GenerationState.Draining], GenerationState.Active),
            _ => throw new ArgumentOutOfRangeException(nameof(op)),
        };
        GenerationCoordinatorState state = With(from);
        StatusMessage before = state.Snapshot(T(10));
        Func<IReadOnlyList<CoordinatorMessage>> apply = op switch
        {
            "Ready" => () => state.Ready(T(10), G1),
            "Activate" => () => state.Activate(T(10), G1),
            "Drain" => () => state.Drain(T(10), G1),
            "Exited" => () => state.Exited(T(10), G1, Counters, "done"),
            _ => () => state.Rollback(T(10), G1),
        };

        if (allowed.Contains(from))
        {
            IReadOnlyList<CoordinatorMessage> events = apply();
            Assert.Equal(to, state.StateOf(G1));
            Assert.NotEmpty(events);
            Assert.Equal(T(10), state.Snapshot(T(10)).Find(G1)!.Value.Since);
        }
        else
        {
            var e = Assert.Throws<CoordinatorRequestException>(apply);
            Assert.Equal(CoordinatorErrorCode.InvalidTransition, e.ErrorCode);
            Assert.Contains($"gen1 is {from}", e.Message, StringComparison.Ordinal);
            Assert.Equal(before, state.Snapshot(T(10)));
        }
    }

    [Fact]
    public void Join_allocates_ascending_ids_and_reports_the_active_generation()
    {
        var state = new GenerationCoordinatorState(Probation);
        JoinAcceptedMessage first = state.Join(T(0), 100, Fresh());
        Assert.Equal(new JoinAcceptedMessage(G1, null, 1), first);
        state.Ready(T(1), G1);
        state.Activate(T(1), G1);
        Assert.Equal(new JoinAcceptedMessage(G2, G1, 1), state.Join(T(2), 200, Fresh()));
        Assert.Equal(G3, JoinOne(state, T(3)));
        Assert.Equal(GenerationState.Joining, state.StateOf(G3));
    }

    [Fact]
    public void Allocation_wraps_after_255_skips_live_ids_and_reuses_exited_and_dead_ones()
    {
        var state = new GenerationCoordinatorState(Probation);
        for (int i = 1; i <= 255; i++) Assert.Equal(i, JoinOne(state, T(0)).Value);

        var full = Assert.Throws<CoordinatorRequestException>(() => JoinOne(state, T(1)));
        Assert.Equal(CoordinatorErrorCode.NoGenerationAvailable, full.ErrorCode);

        state.Exited(T(2), new GenerationId(7), default, "bye");
        state.PeerLost(T(2), new GenerationId(3));
        Assert.Equal(3, JoinOne(state, T(3)).Value);   // first free after 255 (wrapping), skipping live 1 and 2
        Assert.Equal(7, JoinOne(state, T(3)).Value);
        Assert.Throws<CoordinatorRequestException>(() => JoinOne(state, T(4)));
    }

    [Fact]
    public void A_requested_id_is_granted_unless_live_and_does_not_move_the_allocation_cursor()
    {
        var state = new GenerationCoordinatorState(Probation);
        JoinOne(state, T(0));
        var inUse = Assert.Throws<CoordinatorRequestException>(() => state.Join(T(1), 1, Fresh(G1)));
        Assert.Equal(CoordinatorErrorCode.GenerationInUse, inUse.ErrorCode);

        Assert.Equal(new GenerationId(9), state.Join(T(1), 1, Fresh(new GenerationId(9))).Generation);
        Assert.Equal(G2, JoinOne(state, T(2)));

        state.Exited(T(3), new GenerationId(9), default, "bye");
        Assert.Equal(new GenerationId(9), state.Join(T(4), 1, Fresh(new GenerationId(9))).Generation);
        Assert.Equal(GenerationState.Joining, state.StateOf(new GenerationId(9)));
    }

    [Fact]
    public void Activate_makes_exactly_one_generation_active_and_drains_the_previous_one()
    {
        var state = new GenerationCoordinatorState(Probation);
        JoinOne(state, T(0));
        Assert.Equal([new ReadyMessage(G1)], state.Ready(T(1), G1));
        Assert.Equal([new ActivateMessage(G1)], state.Activate(T(2), G1));
        Assert.Equal(G1, state.ActiveGeneration);

        JoinOne(state, T(3));
        state.Ready(T(4), G2);
        Assert.Equal([new ActivateMessage(G2), new DrainMessage(G1)], state.Activate(T(5), G2));
        Assert.Equal(G2, state.ActiveGeneration);
        Assert.Equal(GenerationState.Draining, state.StateOf(G1));
        Assert.Single(state.Snapshot(T(6)).Generations, g => g.State == GenerationState.Active);
    }

    [Fact]
    public void Draining_the_active_generation_leaves_none_active()
    {
        GenerationCoordinatorState state = With(GenerationState.Active);
        Assert.Equal([new DrainMessage(G1)], state.Drain(T(5), G1));
        Assert.Null(state.ActiveGeneration);
    }

    [Fact]
    public void A_clean_exit_of_the_active_generation_on_probation_does_not_roll_back()
    {
        GenerationCoordinatorState state = ActivatedSecond(out TimeSpan activatedAt);
        IReadOnlyList<CoordinatorMessage> events = state.Exited(activatedAt + T(1), G2, Counters, "health check failed");
        Assert.Equal([new ExitedMessage(G2, ExitKind.Clean, Counters, "health check failed")], events);
        Assert.Null(state.ActiveGeneration);
        Assert.Equal(GenerationState.Draining, state.StateOf(G1));
        Assert.Equal(Counters, state.Snapshot(T(20)).Find(G2)!.Value.Counters);
    }

    [Fact]
    public void Explicit_rollback_reactivates_a_draining_generation_and_drains_the_active_one()
    {
        GenerationCoordinatorState state = ActivatedSecond(out TimeSpan activatedAt);
        Assert.Equal([new RollbackMessage(G1, G2), new DrainMessage(G2)], state.Rollback(activatedAt + T(100), G1));
        Assert.Equal(G1, state.ActiveGeneration);
        Assert.Equal(GenerationState.Draining, state.StateOf(G2));
    }

    [Fact]
    public void Explicit_rollback_with_no_active_generation()
    {
        GenerationCoordinatorState state = With(GenerationState.Draining);
        Assert.Equal([new RollbackMessage(G1, null)], state.Rollback(T(5), G1));
        Assert.Equal(G1, state.ActiveGeneration);
    }

    /// <summary>gen1 Active then displaced by gen2 (Active at the returned time); gen1 Draining.</summary>
    private static GenerationCoordinatorState ActivatedSecond(out TimeSpan activatedAt)
    {
        var state = new GenerationCoordinatorState(Probation);
        JoinOne(state, T(0), 100);
        state.Ready(T(1), G1);
        state.Activate(T(2), G1);
        JoinOne(state, T(10), 200);
        state.Ready(T(11), G2);
        activatedAt = T(12);
        state.Activate(activatedAt, G2);
        return state;
    }

    [Theory]
    [InlineData(0.5, true)]
    [InlineData(30, true)]       // the probation window includes its end
    [InlineData(30.001, false)]
    [InlineData(3600, false)]
    public void A_crash_of_the_active_generation_rolls_back_within_probation_only(double secondsAfterActivation, bool rollsBack)
    {
        GenerationCoordinatorState state = ActivatedSecond(out TimeSpan activatedAt);
        state.Report(G2, Counters);
        IReadOnlyList<CoordinatorMessage> events = state.PeerLost(activatedAt + T(secondsAfterActivation), G2);

        Assert.Equal(GenerationState.Dead, state.StateOf(G2));
        var dead = Assert.IsType<ExitedMessage>(events[0]);
        Assert.Equal((G2, ExitKind.Dead, Counters), (dead.Generation, dead.Kind, dead.Counters));
        Assert.Contains("pid 200", dead.Reason, StringComparison.Ordinal);
        if (rollsBack)
        {
            Assert.Equal(new RollbackMessage(G1, G2), Assert.Single(events.Skip(1)));
            Assert.Equal(G1, state.ActiveGeneration);
            Assert.Equal(GenerationState.Active, state.StateOf(G1));
        }
        else
        {
            Assert.Single(events);
            Assert.Null(state.ActiveGeneration);
            Assert.Equal(GenerationState.Draining, state.StateOf(G1));
        }
    }

    [Fact]
    public void No_rollback_when_the_displaced_generation_is_gone_or_there_was_none()
    {
        GenerationCoordinatorState state = ActivatedSecond(out TimeSpan activatedAt);
        state.Exited(activatedAt + T(1), G1, default, "drained");
        Assert.Single(state.PeerLost(activatedAt + T(2), G2));
        Assert.Null(state.ActiveGeneration);

        GenerationCoordinatorState first = With(GenerationState.Active);
        Assert.Single(first.PeerLost(T(3), G1));
        Assert.Null(first.ActiveGeneration);
    }

    [Fact]
    public void A_generation_taken_back_by_rollback_is_not_on_probation()
    {
        GenerationCoordinatorState state = ActivatedSecond(out TimeSpan activatedAt);
        state.PeerLost(activatedAt + T(1), G2);
        Assert.Equal(G1, state.ActiveGeneration);
        Assert.Single(state.PeerLost(activatedAt + T(2), G1));
        Assert.Null(state.ActiveGeneration);
    }

    [Theory]
    [InlineData((int)GenerationState.Joining)]
    [InlineData((int)GenerationState.Ready)]
    [InlineData((int)GenerationState.Draining)]
    public void A_crash_of_a_non_active_generation_only_marks_it_dead(int fromState)
    {
        var from = (GenerationState)fromState;
        GenerationCoordinatorState state = With(from);
        IReadOnlyList<CoordinatorMessage> events = state.PeerLost(T(20), G1);
        Assert.Equal(ExitKind.Dead, Assert.IsType<ExitedMessage>(Assert.Single(events)).Kind);
        Assert.Equal(GenerationState.Dead, state.StateOf(G1));
    }

    [Theory]
    [InlineData((int)GenerationState.Exited)]
    [InlineData((int)GenerationState.Dead)]
    public void Losing_the_connection_of_a_generation_that_already_left_changes_nothing(int fromState)
    {
        var from = (GenerationState)fromState;
        GenerationCoordinatorState state = With(from);
        StatusMessage before = state.Snapshot(T(20));
        Assert.Empty(state.PeerLost(T(20), G1));
        Assert.Empty(state.PeerLost(T(20), new GenerationId(200)));
        Assert.Equal(before, state.Snapshot(T(20)));
    }

    [Fact]
    public void Operations_on_unknown_generations_are_typed_errors()
    {
        var state = new GenerationCoordinatorState(Probation);
        foreach (Action op in (Action[])
                 [
                     () => state.Ready(T(0), G3),
                     () => state.Activate(T(0), G3),
                     () => state.Drain(T(0), G3),
                     () => state.Exited(T(0), G3, default, string.Empty),
                     () => state.Rollback(T(0), G3),
                     () => state.Report(G3, Counters),
                     () => state.Activate(T(0), new GenerationId(0)),
                 ])
        {
            Assert.Equal(CoordinatorErrorCode.UnknownGeneration, Assert.Throws<CoordinatorRequestException>(op).ErrorCode);
        }
    }

    [Fact]
    public void Resuming_joins_rebuild_the_table_after_a_takeover()
    {
        var state = new GenerationCoordinatorState(Probation);
        Assert.Equal(new JoinAcceptedMessage(G2, G2, 1), state.Join(T(0), 200, Resume(G2, GenerationState.Active)));
        Assert.Equal(new JoinAcceptedMessage(G1, G2, 1), state.Join(T(0), 100, Resume(G1, GenerationState.Draining)));
        Assert.Equal(GenerationState.Draining, state.StateOf(G1));

        var twoActive = Assert.Throws<CoordinatorRequestException>(() => state.Join(T(0), 300, Resume(G3, GenerationState.Active)));
        Assert.Equal(CoordinatorErrorCode.InvalidTransition, twoActive.ErrorCode);
        Assert.Null(state.StateOf(G3));

        // A resumed Active generation finished its rollout under the previous coordinator: no rollback on a crash.
        Assert.Single(state.PeerLost(T(1), G2));
        Assert.Equal(GenerationState.Draining, state.StateOf(G1));

        // Resumed joins move the allocation cursor past the newest ID they bring: the next fresh join gets gen3, not
        // the just-dead gen2, whose connection IDs may still be in flight (a reused ID would route them to a
        // process that does not know them).
        Assert.Equal(G3, JoinOne(state, T(2)));
    }

    [Fact]
    public void Status_snapshot_lists_every_generation_with_pid_state_since_and_counters()
    {
        GenerationCoordinatorState state = ActivatedSecond(out TimeSpan activatedAt);
        state.Report(G1, new GenerationCounters(1, 1000, 3, 2));
        state.Report(G2, new GenerationCounters(1, 50, 0, 0));
        JoinOne(state, T(20), 300);
        state.PeerLost(T(21), G3);

        StatusMessage status = state.Snapshot(T(25));
        Assert.Equal(T(25), status.Now);
        Assert.Equal(G2, status.ActiveGeneration);
        Assert.Equal(
            [
                new GenerationStatus(G1, 100, GenerationState.Draining, activatedAt, new GenerationCounters(1, 1000, 3, 2), "app"),
                new GenerationStatus(G2, 200, GenerationState.Active, activatedAt, new GenerationCounters(1, 50, 0, 0), "app"),
                new GenerationStatus(G3, 300, GenerationState.Dead, T(21), default, "app"),
            ],
            status.Generations);
    }
}
