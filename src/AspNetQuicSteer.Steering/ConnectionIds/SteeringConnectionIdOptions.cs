namespace AspNetQuicSteer.Steering.ConnectionIds;

/// <summary>
/// What a <see cref="SteeringConnectionIdGenerator"/> puts in the CIDs it issues: a QUIC-LB configuration and this
/// host's server ID in it (draft-ietf-quic-load-balancers-21 §5), the app generation this process serves, whether
/// that generation byte is XOR-masked with the following nonce octet, and the CID length (first octet + server ID +
/// nonce, plus optional server-use octets, §5.4).
/// </summary>
internal sealed record SteeringConnectionIdOptions
{
    /// <summary>RFC 9000 §17.2 caps v1 CIDs at 20 octets.</summary>
    public const int MaxConnectionIdLength = 20;

    /// <summary>
    /// Shorter CIDs give too little room for server ID, generation and a random nonce; 8 is also Katran's minimum for
    /// CID routing and the draft's recommended minimum for unroutable CIDs (§3.2).
    /// </summary>
    public const int MinConnectionIdLength = 8;

    /// <summary>
    /// The nonce carries the generation byte (<see cref="SteeringConnectionIdGenerator"/>), so it needs one octet more
    /// than the four random octets §9.6 reserves: "at least four octets of the CID are reserved for a nonce".
    /// </summary>
    public const int MinNonceLength = 1 + QuicLbConfiguration.MinNonceLength;

    public required QuicLbConfiguration QuicLb { get; init; }

    /// <summary>This host's server ID under <see cref="QuicLb"/>; exactly <see cref="QuicLbConfiguration.ServerIdLength"/> octets.</summary>
    public required ReadOnlyMemory<byte> ServerId { get; init; }

    /// <summary>The host-local steering value written into every CID (the first nonce octet).</summary>
    public GenerationId Generation { get; init; }

    /// <summary>XOR the generation byte with the next (random) nonce octet, so the byte on the wire is not a constant.</summary>
    public bool MaskGeneration { get; init; } = true;

    /// <summary>Total CID length, 8..20; null means exactly first octet + server ID + nonce.</summary>
    public int? ConnectionIdLength { get; init; }

    public int EffectiveConnectionIdLength => ConnectionIdLength ?? QuicLb.MinConnectionIdLength;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first inconsistent setting.</summary>
    public void Validate()
    {
        if (QuicLb is null)
        {
            throw new ArgumentException("A QUIC-LB configuration is required.", nameof(QuicLb));
        }

        if (ServerId.Length != QuicLb.ServerIdLength)
        {
            throw new ArgumentException(
                $"The server ID must be the configuration's {QuicLb.ServerIdLength} octets (draft-ietf-quic-load-balancers-21 §5.3); got {ServerId.Length}.",
                nameof(ServerId));
        }

        if (QuicLb.NonceLength < MinNonceLength)
        {
            throw new ArgumentException(
                $"The nonce must be at least {MinNonceLength} octets: one for the generation and four random " +
                $"(draft-ietf-quic-load-balancers-21 §9.6); the configuration has {QuicLb.NonceLength}.",
                nameof(QuicLb));
        }

        int length = EffectiveConnectionIdLength;
        if (length is < MinConnectionIdLength or > MaxConnectionIdLength)
        {
            throw new ArgumentException(
                $"The CID length must be {MinConnectionIdLength}..{MaxConnectionIdLength} octets (RFC 9000 §17.2); got {length}.",
                nameof(ConnectionIdLength));
        }

        if (length < QuicLb.MinConnectionIdLength)
        {
            throw new ArgumentException(
                $"The CID length {length} cannot hold the first octet, the {QuicLb.ServerIdLength}-octet server ID and the " +
                $"{QuicLb.NonceLength}-octet nonce (draft-ietf-quic-load-balancers-21 §5.2).",
                nameof(ConnectionIdLength));
        }
    }
}
