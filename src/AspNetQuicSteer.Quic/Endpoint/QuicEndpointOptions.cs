using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Endpoint.Stateless;
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

    /// <summary>Upper bound on concurrent connections; Initials beyond it are dropped.</summary>
    public int MaxConnections { get; init; } = 10_000;

    /// <summary>
    /// Keys for Retry/NEW_TOKEN tokens and stateless reset tokens. Every generation of an app must share them
    /// (same master secret); null draws random keys good for this process only.
    /// </summary>
    public StatelessKeyRing? Keys { get; init; }

    /// <summary>Decides per incoming Initial: accept, Retry, refuse or drop (RFC 9000 §8.1.2, §5.2.2).</summary>
    public IInitialAdmissionPolicy Admission { get; init; } = InitialAdmissionPolicies.AlwaysAccept;

    /// <summary>Wall clock for token lifetimes (tokens cross processes, so not the monotonic driver time).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>RFC 9000 §10.3.3: stateless resets sent per second at most (reflection bound).</summary>
    public int StatelessResetsPerSecond { get; init; } = 100;
}
