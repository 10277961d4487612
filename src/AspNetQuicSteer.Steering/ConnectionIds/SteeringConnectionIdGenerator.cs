using System.Security.Cryptography;
using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Steering.ConnectionIds;

/// <summary>
/// Issues the product's connection IDs: QUIC-LB CIDs (draft-ietf-quic-load-balancers-21) whose plaintext nonce
/// begins with the host-local <see cref="GenerationId"/>. Plaintext layout, before any QUIC-LB encryption:
/// <code>
/// octet 0            1 .. s          1+s          2+s          3+s .. s+n     s+n+1 .. L-1
///       [CR(3)|len/rnd(5)] [server ID (s)] [generation] [mask/random] [random nonce] [random server-use octets]
/// </code>
/// The generation byte is the first nonce octet, optionally XOR-masked with the second (random) nonce octet so it is
/// not a constant on the wire (<see cref="SteeringField"/>). The rest of the nonce and any octets appended after it
/// (§5.4) are random. To a QUIC-LB load balancer the generation is just nonce: any LB that knows the configuration
/// routes these CIDs by server ID.
/// <para>Plaintext configurations (§5.4, no key) leave the generation at a fixed CID offset that a classic BPF
/// reuseport program can read: <see cref="KernelReadableField"/>. With a key the server ID and nonce are encrypted
/// (single pass §5.4.1 or four passes §5.4.2), so no fixed octet carries the generation; it is recovered only by
/// decrypting (<see cref="TryReadGeneration"/>), i.e. in userspace.</para>
/// <para>Thread-safe. <see cref="Generate"/> allocates nothing: the CID is built in stack buffers and returned as a
/// <see cref="ConnectionId"/> struct.</para>
/// </summary>
internal sealed class SteeringConnectionIdGenerator : IConnectionIdGenerator, IDisposable
{
    private readonly QuicLbCodec _codec;
    private readonly byte[] _serverId;

    /// <summary>The generation's place in the nonce (octet 0, masked with octet 1).</summary>
    private readonly SteeringField _nonceField;

    public SteeringConnectionIdGenerator(SteeringConnectionIdOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        QuicLbConfiguration config = options.QuicLb;
        _serverId = options.ServerId.ToArray();
        Generation = options.Generation;
        ConnectionIdLength = options.EffectiveConnectionIdLength;
        _nonceField = new SteeringField(Offset: 0, MaskOffset: options.MaskGeneration ? 1 : -1);
        PlaintextField = PlaintextLayoutField(config, options.MaskGeneration);
        KernelReadableField = config.Mode == QuicLbMode.Plaintext ? PlaintextField : null;
        _codec = new QuicLbCodec(config);
    }

    public int ConnectionIdLength { get; }

    public GenerationId Generation { get; }

    public QuicLbConfiguration Configuration => _codec.Configuration;

    /// <summary>
    /// Where the generation sits on the wire when it can be read without a key — plaintext QUIC-LB only; null for
    /// encrypted configurations (the field is inside the ciphertext). In a short header the DCID starts at UDP
    /// payload octet 1 (RFC 9000 §17.3.1), so a BPF program reads payload octet 1 + Offset (and 1 + MaskOffset).
    /// </summary>
    public SteeringField? KernelReadableField { get; }

    /// <summary>The generation field's offset in the plaintext CID (first octet + server ID + nonce), in every mode.</summary>
    public SteeringField PlaintextField { get; }

    /// <summary>The field position the plaintext layout uses: the first nonce octet, masked with the second.</summary>
    public static SteeringField PlaintextLayoutField(QuicLbConfiguration configuration, bool masked)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        int offset = 1 + configuration.ServerIdLength;
        return new SteeringField(offset, masked ? offset + 1 : -1);
    }

    /// <summary>A fresh CID: random nonce with the generation field, QUIC-LB encoded (RFC 9000 §5.1: unlinkable apart from what the layout exposes).</summary>
    public ConnectionId Generate()
    {
        QuicLbConfiguration config = _codec.Configuration;
        Span<byte> cid = stackalloc byte[ConnectionIdLength];
        Span<byte> nonce = stackalloc byte[config.NonceLength];

        // §9.6: nonces from a CSPRNG; §5.4: server-use octets after the nonce "SHOULD NOT provide any observable
        // correlation to previous connection IDs", so those are random too.
        RandomNumberGenerator.Fill(nonce);
        RandomNumberGenerator.Fill(cid[config.MinConnectionIdLength..]);
        _nonceField.Write(nonce, Generation);
        _codec.Encode(_serverId, nonce, cid);
        CryptographicOperations.ZeroMemory(nonce);
        return new ConnectionId(cid);
    }

    /// <summary>
    /// Tells whether a generation other than ours is alive on the port (the steering table's view). When set,
    /// <see cref="Validate"/> refuses CIDs of such generations, so the endpoint never answers another live
    /// generation's packet with a stateless reset (ARCHITECTURE.md invariant 1; RFC 9000 §10.3 leaves the decision to
    /// send one to the endpoint).
    /// </summary>
    public Func<GenerationId, bool>? IsOtherLiveGeneration { get; set; }

    /// <summary>
    /// What the endpoint asks before a stateless reset (RFC 9000 §10.3): the CID has our layout
    /// (<see cref="IsPlausible"/>) and does not belong to another live generation.
    /// </summary>
    public bool Validate(ReadOnlySpan<byte> connectionId)
    {
        if (!IsPlausible(connectionId)) return false;
        Func<GenerationId, bool>? otherLive = IsOtherLiveGeneration;
        return otherLive is null || !TryReadGeneration(connectionId, out GenerationId owner) || owner == Generation || !otherLive(owner);
    }

    /// <summary>
    /// Cheap plausibility check (no decryption): our CID length, our config rotation bits (never 0b111, §3.1/§4.1)
    /// and, when the configuration self-encodes, a first octet that says length − 1 (§3.3, §4.1).
    /// </summary>
    public bool IsPlausible(ReadOnlySpan<byte> connectionId)
    {
        if (connectionId.Length != ConnectionIdLength || !_codec.IsRoutable(connectionId))
        {
            return false;
        }

        return !Configuration.SelfEncodeLength || (connectionId[0] & 0x1F) == ConnectionIdLength - 1;
    }

    /// <summary>
    /// The generation a CID of this layout carries, in every mode: read in place for plaintext configurations, after
    /// decrypting server ID and nonce for keyed ones (all four passes, §5.5.2). <paramref name="connectionId"/> may be
    /// longer than the CID (e.g. the rest of a short header); false when it fails <see cref="Validate"/>.
    /// </summary>
    public bool TryReadGeneration(ReadOnlySpan<byte> connectionId, out GenerationId generation)
    {
        generation = default;
        if (connectionId.Length < ConnectionIdLength)
        {
            return false;
        }

        connectionId = connectionId[..ConnectionIdLength];
        if (!IsPlausible(connectionId))
        {
            return false;
        }

        if (KernelReadableField is { } field)
        {
            return field.TryRead(connectionId, out generation);
        }

        QuicLbConfiguration config = _codec.Configuration;
        Span<byte> serverId = stackalloc byte[config.ServerIdLength];
        Span<byte> nonce = stackalloc byte[config.NonceLength];
        bool read = _codec.TryDecode(connectionId, serverId, nonce) && _nonceField.TryRead(nonce, out generation);
        CryptographicOperations.ZeroMemory(nonce);
        return read;
    }

    /// <summary>The server ID a CID of this layout routes to (what a QUIC-LB load balancer extracts, §5.5).</summary>
    public bool TryReadServerId(ReadOnlySpan<byte> connectionId, Span<byte> serverId)
        => connectionId.Length >= ConnectionIdLength
            && IsPlausible(connectionId[..ConnectionIdLength])
            && _codec.TryDecode(connectionId, serverId);

    public void Dispose() => _codec.Dispose();
}
