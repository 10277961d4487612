using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Tls;

namespace AspNetQuicSteer.Quic.Endpoint;

internal sealed class QuicEndpointOptions
{
    public QuicConnectionOptions Connection { get; init; } = new();

    /// <summary>
    /// Creates the server-side TLS session for a new connection from our encoded transport parameters.
    /// Null makes a client-only endpoint that ignores unsolicited Initials.
    /// </summary>
    public Func<ReadOnlyMemory<byte>, IQuicTlsSession>? ServerTls { get; init; }

    /// <summary>Upper bound on concurrent connections; Initials beyond it are dropped (a handshake limit seam).</summary>
    public int MaxConnections { get; init; } = 10_000;
}
