using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Connection;

/// <summary>What a server learned from a valid Retry token: the IDs it must authenticate (RFC 9000 §7.3, §8.1.2).</summary>
internal sealed record RetryContext(ConnectionId OriginalDestinationConnectionId, ConnectionId RetrySourceConnectionId);
