using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Connection;

/// <summary>A local connection ID the endpoint must start or stop routing to this connection (RFC 9000 §5.1).</summary>
internal readonly record struct ConnectionIdChange(bool Added, ConnectionId ConnectionId);
