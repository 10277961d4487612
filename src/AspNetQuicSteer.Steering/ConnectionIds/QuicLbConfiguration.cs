namespace AspNetQuicSteer.Steering.ConnectionIds;

/// <summary>How a <see cref="QuicLbConfiguration"/> protects the server ID and nonce (draft-ietf-quic-load-balancers-21 §5.4).</summary>
internal enum QuicLbMode
{
    /// <summary>No key: server ID and nonce are in clear (§5.4, "If there is no key in the configuration, the Connection ID is complete").</summary>
    Plaintext,

    /// <summary>Key and server ID + nonce of exactly 16 octets: one AES-128-ECB block (§5.4.1).</summary>
    SinglePass,

    /// <summary>Key and any other length: the four-round Feistel network with AES-128-ECB round function (§5.4.2).</summary>
    FourPass,
}

/// <summary>
/// One QUIC-LB configuration as a configuration agent hands it to servers and load balancers
/// (draft-ietf-quic-load-balancers-21 §5.3; the limits are those of the YANG model, Appendix A): config rotation
/// codepoint, server ID and nonce lengths, optional 16-octet AES-128 key, and whether servers self-encode the CID
/// length in the first octet (§3.3). Immutable; the constructor rejects anything the draft forbids.
/// </summary>
internal sealed class QuicLbConfiguration
{
    /// <summary>§3.1/§3.2: codepoint 0b111 is reserved for unroutable CIDs; a configuration never uses it.</summary>
    public const int UnroutableConfigRotation = 0b111;

    public const int MaxConfigRotation = 6;
    public const int MinServerIdLength = 1;
    public const int MaxServerIdLength = 15;
    public const int MinNonceLength = 4;
    public const int MaxNonceLength = 18;

    /// <summary>§5.3: "the server ID and nonce lengths MUST sum to 19 octets or less" (QUIC v1 CIDs are at most 20 octets).</summary>
    public const int MaxPlaintextLength = 19;

    /// <summary>§5.3: the optional key is 16 octets (AES-128-ECB, §5.4).</summary>
    public const int KeyLength = 16;

    private readonly byte[]? _key;

    /// <param name="configRotation">The three config rotation bits, 0..6 (§3.1).</param>
    /// <param name="serverIdLength">Server ID length in octets, 1..15 (§5.3, Appendix A).</param>
    /// <param name="nonceLength">Nonce length in octets, 4..18, with server ID + nonce ≤ 19 (§5.3).</param>
    /// <param name="key">Empty for the plaintext algorithm, otherwise exactly 16 octets (copied).</param>
    /// <param name="selfEncodeLength">Whether the low five bits of the first octet carry CID length − 1 (§3.3).</param>
    public QuicLbConfiguration(int configRotation, int serverIdLength, int nonceLength, ReadOnlySpan<byte> key = default, bool selfEncodeLength = false)
    {
        if (configRotation == UnroutableConfigRotation)
        {
            throw new ArgumentException(
                "Config rotation 0b111 is reserved for unroutable connection IDs and cannot name a configuration " +
                "(draft-ietf-quic-load-balancers-21 §3.1, §3.2).", nameof(configRotation));
        }

        if (configRotation is < 0 or > MaxConfigRotation)
        {
            throw new ArgumentException(
                $"Config rotation is three bits, 0..{MaxConfigRotation} (draft-ietf-quic-load-balancers-21 §3.1); got {configRotation}.",
                nameof(configRotation));
        }

        if (serverIdLength is < MinServerIdLength or > MaxServerIdLength)
        {
            throw new ArgumentException(
                $"Server ID length must be {MinServerIdLength}..{MaxServerIdLength} octets (draft-ietf-quic-load-balancers-21 §5.3, Appendix A); got {serverIdLength}.",
                nameof(serverIdLength));
        }

        if (nonceLength is < MinNonceLength or > MaxNonceLength)
        {
            throw new ArgumentException(
                $"Nonce length must be {MinNonceLength}..{MaxNonceLength} octets (draft-ietf-quic-load-balancers-21 §5.3, Appendix A); got {nonceLength}.",
                nameof(nonceLength));
        }

        if (serverIdLength + nonceLength > MaxPlaintextLength)
        {
            throw new ArgumentException(
                $"Server ID ({serverIdLength}) and nonce ({nonceLength}) lengths must sum to {MaxPlaintextLength} octets or less, " +
                "so the CID fits QUIC v1's 20 octets with the first octet (draft-ietf-quic-load-balancers-21 §5.3).",
                nameof(nonceLength));
        }

        if (!key.IsEmpty && key.Length != KeyLength)
        {
            throw new ArgumentException(
                $"A QUIC-LB key is {KeyLength} octets (AES-128-ECB, draft-ietf-quic-load-balancers-21 §5.3, §5.4); got {key.Length}. " +
                "Pass no key for the plaintext algorithm.",
                nameof(key));
        }

        ConfigRotation = (byte)configRotation;
        ServerIdLength = serverIdLength;
        NonceLength = nonceLength;
        SelfEncodeLength = selfEncodeLength;
        _key = key.IsEmpty ? null : key.ToArray();
        Mode = _key is null ? QuicLbMode.Plaintext
            : PlaintextLength == 16 ? QuicLbMode.SinglePass
            : QuicLbMode.FourPass;
    }

    /// <summary>The three most significant bits of every CID this configuration produces (§3.1).</summary>
    public byte ConfigRotation { get; }

    public int ServerIdLength { get; }

    public int NonceLength { get; }

    /// <summary>§3.3: servers put CID length − 1 in the low five bits of the first octet (else those bits are random).</summary>
    public bool SelfEncodeLength { get; }

    public QuicLbMode Mode { get; }

    public bool HasKey => _key is not null;

    /// <summary>Server ID + nonce: the "plaintext_len" of §5.4.2.3.</summary>
    public int PlaintextLength => ServerIdLength + NonceLength;

    /// <summary>First octet + server ID + nonce. Servers may append bytes up to the QUIC limit (§5.4).</summary>
    public int MinConnectionIdLength => 1 + PlaintextLength;

    /// <summary>The AES-128 key; empty in plaintext mode. Internal so the codec can key its cipher.</summary>
    internal ReadOnlySpan<byte> Key => _key;

    /// <summary>The first octet's top three bits for this configuration.</summary>
    internal byte ConfigRotationBits => (byte)(ConfigRotation << 5);

    public override string ToString()
        => $"QUIC-LB config {ConfigRotation}: {Mode}, server ID {ServerIdLength} B, nonce {NonceLength} B{(SelfEncodeLength ? ", self-encoded length" : "")}";
}
