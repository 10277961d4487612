using System.Net;

namespace AspNetQuicSteer.Quic.Connection;

/// <summary>One network path to the peer (RFC 9000 §9): its address, validation and anti-amplification state.</summary>
internal sealed class QuicPath(EndPoint remote, bool validated)
{
    public EndPoint Remote { get; } = remote;

    /// <summary>RFC 9000 §8.2: the peer proved it receives at this address (PATH_RESPONSE, or the handshake).</summary>
    public bool Validated { get; set; } = validated;

    public long BytesReceived { get; set; }

    public long BytesSent { get; set; }

    /// <summary>Data of our outstanding PATH_CHALLENGE on this path (RFC 9000 §8.2.1).</summary>
    public ulong? ChallengeData { get; set; }

    /// <summary>A PATH_CHALLENGE must still be sent on this path.</summary>
    public bool ChallengePending { get; set; }

    /// <summary>When validation is abandoned (RFC 9000 §8.2.4).</summary>
    public TimeSpan? ValidationDeadline { get; set; }

    /// <summary>RFC 9000 §8.1 / §9.3: before validation, at most 3x the bytes received on the path may be sent.</summary>
    public long AmplificationBudget => Validated ? long.MaxValue : 3 * BytesReceived - BytesSent;
}
