using AspNetQuicSteer.Steering.ConnectionIds;
using AspNetQuicSteer.Steering.Coordination;

namespace AspNetQuicSteer.Steering.Membership;

/// <summary>How one process joins its port's generation group (<see cref="SteeringMember.JoinAsync"/>).</summary>
internal sealed class SteeringMemberOptions
{
    /// <summary>Generations of one app share a port freely; another app needs CIBIR (see the coordinator's port-sharing rules).</summary>
    public required string AppName { get; init; }

    /// <summary>
    /// Empty for the port's default app. Otherwise this app's CIBIR ID (draft-banks-quic-cibir-01): cooperating
    /// clients put it at offset 0 of their source connection ID, and the port routes their long-header packets to
    /// this app's active generation; other apps can then share the port.
    /// </summary>
    public byte[] CibirId { get; init; } = [];

    /// <summary>
    /// The generation ID to join as (1..255), e.g. one a deployment tool assigns; null lets the coordinator allocate
    /// the next free one. A live generation holding it makes the join fail.
    /// </summary>
    public GenerationId? RequestedGeneration { get; init; }

    /// <summary>The requested dataplane; <see cref="SteeringDataplaneMode.Automatic"/> adopts the port's.</summary>
    public SteeringDataplaneMode Mode { get; init; }

    /// <summary>Overrides where the control, forwarding and share sockets live (<see cref="ControlSocketPath"/>).</summary>
    public string? ControlDirectory { get; init; }

    /// <summary>
    /// The CID layout and stateless secret the first generation establishes; later generations adopt the port's and
    /// only check that an explicitly configured layout matches. Null: plaintext QUIC-LB, random server ID and secret.
    /// </summary>
    public PortGroupDescription? Layout { get; init; }

    public int ReceiveBufferSize { get; init; } = 4 * 1024 * 1024;

    public int SendBufferSize { get; init; } = 4 * 1024 * 1024;

    /// <summary>How often the generation reports its counters for the status view.</summary>
    public TimeSpan ReportInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How long to wait for another process's join to finish (the per-port join lock).</summary>
    public TimeSpan JoinLockTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public GenerationCoordinatorOptions Coordinator { get; init; } = new();

    /// <summary>Diagnostics; null logs nothing.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>The default layout: plaintext QUIC-LB (config rotation 0, random 3-byte server ID, 8-byte nonce, 12-byte CIDs), masked generation.</summary>
    public static PortGroupDescription CreateDefaultLayout(SteeringDataplaneMode mode) =>
        CreateLayout(mode, 0, System.Security.Cryptography.RandomNumberGenerator.GetBytes(3));

    /// <summary>
    /// A plaintext QUIC-LB layout (draft-ietf-quic-load-balancers §5.4) for a configured server ID: self-encoded
    /// length, an 8-byte nonce whose first byte carries the masked generation, CIDs of 1 + ID + 8 bytes, and a fresh
    /// stateless secret (a joining generation adopts the port's secret; only the layout must match).
    /// </summary>
    public static PortGroupDescription CreateLayout(SteeringDataplaneMode mode, int configRotation, byte[] serverId)
    {
        ArgumentNullException.ThrowIfNull(serverId);
        const int nonceLength = 8;
        byte[] secret = System.Security.Cryptography.RandomNumberGenerator.GetBytes(PortGroupDescription.MinSecretLength);
        var quicLb = new QuicLbConfiguration(configRotation, serverId.Length, nonceLength, selfEncodeLength: true);
        return new PortGroupDescription(mode, quicLb, serverId, quicLb.MinConnectionIdLength, MaskGeneration: true, secret);
    }
}
