using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Steering.Routing;

/// <summary>
/// An immutable snapshot of who is on the port, read by <see cref="PacketRouter"/> for every datagram. The
/// generation coordinator builds a new table on every membership change (join, activation, rollback, exit) and
/// publishes it with a single reference write; a router thread keeps using the table it read for the datagram at
/// hand, so no locks are needed.
/// <list type="bullet">
/// <item><see cref="ActiveGeneration"/>: the newest generation of the port's default app, which takes every new
/// connection that no CIBIR rule claims (ARCHITECTURE §4, invariant 2). Null on a port shared only by CIBIR apps:
/// such packets are then dropped.</item>
/// <item>The live generations, each with the <see cref="DataplaneTarget"/> that reaches it; generations of CIBIR
/// apps are live generations too, since their CIDs carry their generation like everyone else's.</item>
/// <item><see cref="CibirRules"/> (draft-banks-quic-cibir-01 §2.2), tried in order; no two may be able to match the
/// same source connection ID.</item>
/// <item>The port's CID layout: <see cref="ConnectionIdLength"/> (fixed for every generation on the port, since a
/// short header does not encode it, RFC 9000 §17.3.1) and the <see cref="Field"/> that carries the generation.</item>
/// </list>
/// Invalid snapshots are refused with <see cref="ArgumentException"/> when built, never found while routing.
/// </summary>
internal sealed class SteeringTable
{
    // RFC 9001 §5.4.2: header protection samples 16 bytes starting 4 bytes after the packet number offset, so a
    // short-header packet of QUIC v1 has at least 1 + CID + 4 + 16 bytes; nobody can process anything shorter.
    /// <summary>RFC 9001 §5.4.2: a protected short header has at least 4 bytes after the CID plus a 16-byte sample.</summary>
    internal const int HeaderProtectionAllowance = 4 + 16;

    private readonly DataplaneTarget[] _targets = new DataplaneTarget[256];
    private readonly bool[] _live = new bool[256];
    private readonly CibirRule[] _cibirRules;
    private readonly LiveGeneration[] _generations;

    public SteeringTable(
        SteeringField field,
        int connectionIdLength,
        IEnumerable<LiveGeneration> liveGenerations,
        GenerationId? activeGeneration,
        IEnumerable<CibirRule>? cibirRules = null,
        bool routeHandshakeToOwner = false)
    {
        ArgumentNullException.ThrowIfNull(liveGenerations);
        if (connectionIdLength < 1 || connectionIdLength > ConnectionId.MaxLength)
        {
            throw new ArgumentOutOfRangeException(
                nameof(connectionIdLength), connectionIdLength, $"The port's connection IDs are 1 to {ConnectionId.MaxLength} bytes (RFC 9000 §17.2).");
        }

        if (field.Offset < 0 || field.Offset >= connectionIdLength || field.MaskOffset >= connectionIdLength || field.MaskOffset == field.Offset)
        {
            throw new ArgumentException(
                $"The steering field (offset {field.Offset}, mask offset {field.MaskOffset}) must lie inside the {connectionIdLength}-byte connection ID, and a mask byte must differ from the field byte.",
                nameof(field));
        }

        Field = field;
        ConnectionIdLength = connectionIdLength;
        RouteHandshakeToOwner = routeHandshakeToOwner;
        ShortHeaderMinimumLength = 1 + connectionIdLength + HeaderProtectionAllowance;

        Array.Fill(_targets, DataplaneTarget.None);
        _generations = [.. liveGenerations.OrderBy(g => g.Generation.Value)];
        foreach (LiveGeneration live in _generations)
        {
            if (_live[live.Generation.Value])
            {
                throw new ArgumentException($"{live.Generation} is listed twice.", nameof(liveGenerations));
            }

            if (live.Target.IsNone)
            {
                throw new ArgumentException($"{live.Generation} has no dataplane target.", nameof(liveGenerations));
            }

            _live[live.Generation.Value] = true;
            _targets[live.Generation.Value] = live.Target;
        }

        if (activeGeneration is { } active && !_live[active.Value])
        {
            throw new ArgumentException($"The active generation {active} is not live.", nameof(activeGeneration));
        }

        ActiveGeneration = activeGeneration;
        ActiveTarget = activeGeneration is { } a ? _targets[a.Value] : DataplaneTarget.None;

        _cibirRules = cibirRules is null ? [] : [.. cibirRules];
        for (int i = 0; i < _cibirRules.Length; i++)
        {
            if (!_live[_cibirRules[i].Generation.Value])
            {
                throw new ArgumentException($"CIBIR rule {_cibirRules[i]} names a generation that is not live.", nameof(cibirRules));
            }

            for (int j = 0; j < i; j++)
            {
                if (_cibirRules[i].IsAmbiguousWith(_cibirRules[j]))
                {
                    throw new ArgumentException(
                        $"CIBIR rules {_cibirRules[j]} and {_cibirRules[i]} can both match one source connection ID; apps sharing a port need IDs that differ in a byte both cover.",
                        nameof(cibirRules));
                }
            }
        }
    }

    /// <summary>Where the generation sits in the port's connection IDs.</summary>
    public SteeringField Field { get; }

    /// <summary>The fixed length of every connection ID issued on the port; the short-header DCID length.</summary>
    public int ConnectionIdLength { get; }

    /// <summary>Shortest short-header datagram the router forwards (1 + CID + 20, RFC 9001 §5.4.2).</summary>
    public int ShortHeaderMinimumLength { get; }

    /// <summary>The default app's newest generation; null when only CIBIR apps share the port.</summary>
    public GenerationId? ActiveGeneration { get; }

    /// <summary>The target of <see cref="ActiveGeneration"/>, or <see cref="DataplaneTarget.None"/>.</summary>
    public DataplaneTarget ActiveTarget { get; }

    /// <summary>
    /// Opt-in: QUIC v1 Handshake packets (RFC 9000 §17.2.4) whose destination CID names a live generation go to that
    /// generation instead of the active one. Their DCID is always server-chosen, so this is safe, and it spares a
    /// handshake that spans an activation being stalled at the new active generation, which does not know it. Off by
    /// default (the kernel programs send every long header to the active generation); a port's members turn it on,
    /// so the active generation's router passes such packets on to their owner.
    /// </summary>
    public bool RouteHandshakeToOwner { get; }

    /// <summary>The live generations, ordered by generation value.</summary>
    public IReadOnlyList<LiveGeneration> LiveGenerations => _generations;

    public IReadOnlyList<CibirRule> CibirRules => _cibirRules;

    public bool IsLive(GenerationId generation) => _live[generation.Value];

    /// <summary>The target of a live generation; false (and <see cref="DataplaneTarget.None"/>) otherwise.</summary>
    public bool TryGetTarget(GenerationId generation, out DataplaneTarget target)
    {
        target = _targets[generation.Value];
        return _live[generation.Value];
    }

    /// <summary>A copy with <paramref name="generation"/> added (or its target replaced).</summary>
    public SteeringTable WithGeneration(GenerationId generation, DataplaneTarget target)
        => new(Field, ConnectionIdLength, [.. _generations.Where(g => g.Generation != generation), new LiveGeneration(generation, target)], ActiveGeneration, _cibirRules, RouteHandshakeToOwner);

    /// <summary>A copy without <paramref name="generation"/>; refused while it is active or a CIBIR rule names it.</summary>
    public SteeringTable WithoutGeneration(GenerationId generation)
        => new(Field, ConnectionIdLength, _generations.Where(g => g.Generation != generation), ActiveGeneration, _cibirRules, RouteHandshakeToOwner);

    /// <summary>A copy whose default app's active generation is <paramref name="generation"/> (activation or rollback).</summary>
    public SteeringTable WithActive(GenerationId? generation)
        => new(Field, ConnectionIdLength, _generations, generation, _cibirRules, RouteHandshakeToOwner);

    /// <summary>A copy with another set of CIBIR rules (an app joined, left or activated a generation).</summary>
    public SteeringTable WithCibirRules(IEnumerable<CibirRule> rules)
        => new(Field, ConnectionIdLength, _generations, ActiveGeneration, rules, RouteHandshakeToOwner);

    /// <summary>Index of the first CIBIR rule whose ID <paramref name="sourceConnectionId"/> carries, or -1.</summary>
    internal int MatchCibir(ReadOnlySpan<byte> sourceConnectionId)
    {
        CibirRule[] rules = _cibirRules;
        for (int i = 0; i < rules.Length; i++)
        {
            if (rules[i].Matches(sourceConnectionId))
            {
                return i;
            }
        }

        return -1;
    }

    internal DataplaneTarget TargetOf(GenerationId generation) => _targets[generation.Value];
}
