using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Steering.Routing;

/// <summary>
/// One app sharing the port by CIBIR (draft-banks-quic-cibir-01 §2.2): a cooperating client writes the well-known
/// <see cref="Id"/> at <see cref="Offset"/> into its <em>source</em> connection ID, and every long-header packet whose
/// source CID carries it goes to <see cref="Generation"/>, that app's active generation. The client's source CID is
/// the one it chose itself, so it stays the same in all of its long-header packets (Initial, 0-RTT, Handshake);
/// the destination CID cannot be used because a router cannot tell statelessly whether the client or the server
/// chose it (§2.2). Short-header packets are not CIBIR-routed (§2.2): they carry server-chosen CIDs, which on this
/// port hold the owning generation (<see cref="SteeringField"/>).
/// </summary>
internal readonly record struct CibirRule
{
    public CibirRule(ReadOnlySpan<byte> id, int offset, GenerationId generation)
    {
        // RFC 9000 §17.2: a QUIC v1 connection ID is at most 20 bytes, so the ID must fit in the first 20.
        if (id.IsEmpty || offset < 0 || offset + id.Length > ConnectionId.MaxLength)
        {
            throw new ArgumentOutOfRangeException(
                nameof(id), $"A CIBIR ID is 1 to {ConnectionId.MaxLength} bytes and must end within the first {ConnectionId.MaxLength} bytes of the source connection ID; got {id.Length} bytes at offset {offset}.");
        }

        Id = new ConnectionId(id);
        Offset = offset;
        Generation = generation;
    }

    /// <summary>The well-known ID bytes (stored inline, no array).</summary>
    public ConnectionId Id { get; }

    public int Offset { get; }

    public int Length => Id.Length;

    /// <summary>The app's active generation: where its long-header packets go.</summary>
    public GenerationId Generation { get; }

    /// <summary>The <c>cibir_encoding</c> value both endpoints of this app's connections must exchange (draft §2.1).</summary>
    public CibirEncoding Encoding => new(Length, Offset);

    /// <summary>Whether <paramref name="sourceConnectionId"/> carries this rule's ID at its offset.</summary>
    public bool Matches(ReadOnlySpan<byte> sourceConnectionId)
    {
        ConnectionId id = Id;
        return sourceConnectionId.Length >= Offset + id.Length
            && sourceConnectionId.Slice(Offset, id.Length).SequenceEqual(id.Span);
    }

    /// <summary>Whether one source connection ID could carry both rules' IDs (then the port's routing would be ambiguous).</summary>
    public bool IsAmbiguousWith(in CibirRule other)
    {
        ConnectionId mine = Id;
        ConnectionId theirs = other.Id;
        int start = Math.Max(Offset, other.Offset);
        int end = Math.Min(Offset + mine.Length, other.Offset + theirs.Length);
        for (int position = start; position < end; position++)
        {
            if (mine.Span[position - Offset] != theirs.Span[position - other.Offset])
            {
                return false; // a byte both IDs cover differs: no CID can carry both.
            }
        }

        return true;
    }

    public override string ToString() => $"cibir {Convert.ToHexStringLower(Id.Span)}@{Offset} -> {Generation}";
}
