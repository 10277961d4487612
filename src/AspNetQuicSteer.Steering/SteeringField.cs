namespace AspNetQuicSteer.Steering;

/// <summary>
/// Where a connection ID carries its <see cref="GenerationId"/>: one byte at <see cref="Offset"/> (counted from the
/// first CID byte), optionally XOR-masked with the CID byte at <see cref="MaskOffset"/> (a nonce byte) so the field
/// does not read as a constant on the wire. Fixed offsets are what a classic BPF program can read: in a short-header
/// packet the destination CID starts at byte 1 of the UDP payload (RFC 9000 §17.3.1), so the field is at payload
/// byte 1 + <see cref="Offset"/>.
/// <para>Privacy: with the field in clear (or merely masked with a byte that travels in the same CID) an on-path
/// observer can group connections by generation; the masked form only keeps the byte from being constant. Encrypted
/// QUIC-LB modes hide the server ID from observers but cannot be read by classic BPF.</para>
/// </summary>
internal readonly record struct SteeringField(int Offset, int MaskOffset = -1)
{
    public bool IsMasked => MaskOffset >= 0;

    /// <summary>The generation in <paramref name="connectionId"/>; false when the CID is too short to hold the field.</summary>
    public bool TryRead(ReadOnlySpan<byte> connectionId, out GenerationId generation)
    {
        int needed = Math.Max(Offset, MaskOffset) + 1;
        if (Offset < 0 || connectionId.Length < needed)
        {
            generation = default;
            return false;
        }

        byte value = connectionId[Offset];
        if (IsMasked) value ^= connectionId[MaskOffset];
        generation = new GenerationId(value);
        return true;
    }

    /// <summary>Stores <paramref name="generation"/> into <paramref name="connectionId"/> (the mask byte must already be set).</summary>
    public void Write(Span<byte> connectionId, GenerationId generation)
    {
        byte value = generation.Value;
        if (IsMasked) value ^= connectionId[MaskOffset];
        connectionId[Offset] = value;
    }
}
