using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Endpoint.Stateless;

/// <summary>What the endpoint does with a client Initial that would start a new connection.</summary>
internal enum InitialAdmissionAction
{
    /// <summary>Create the connection (from a valid Retry token, with the ODCID/RSCID it carries).</summary>
    Accept,

    /// <summary>Send a Retry with a fresh token to validate the address first (RFC 9000 §8.1.2).</summary>
    Retry,

    /// <summary>
    /// Answer with CONNECTION_CLOSE in an Initial packet (RFC 9000 §5.2.2: a server refusing a connection sends
    /// CONNECTION_REFUSED; §8.1.2: INVALID_TOKEN for a bad Retry token), without creating connection state.
    /// </summary>
    Refuse,

    /// <summary>Send nothing (e.g. under attack: even a refusal is a response an attacker can reflect).</summary>
    Drop,
}

/// <summary>A policy's decision; <see cref="ErrorCode"/> applies to <see cref="InitialAdmissionAction.Refuse"/> only.</summary>
internal readonly record struct InitialAdmissionDecision(InitialAdmissionAction Action, TransportErrorCode ErrorCode)
{
    public static InitialAdmissionDecision Accept => new(InitialAdmissionAction.Accept, TransportErrorCode.NoError);

    public static InitialAdmissionDecision Retry => new(InitialAdmissionAction.Retry, TransportErrorCode.NoError);

    public static InitialAdmissionDecision Drop => new(InitialAdmissionAction.Drop, TransportErrorCode.NoError);

    /// <summary>RFC 9000 §5.2.2 / §20.1: CONNECTION_REFUSED unless another code is given.</summary>
    public static InitialAdmissionDecision Refuse(TransportErrorCode errorCode = TransportErrorCode.ConnectionRefused)
        => new(InitialAdmissionAction.Refuse, errorCode);
}

/// <summary>
/// What a policy knows about one incoming Initial. Built by the endpoint per datagram; a plain struct passed by
/// reference, so deciding allocates nothing.
/// </summary>
internal readonly struct InitialAdmissionContext
{
    public InitialAdmissionContext(PeerAddress remote, bool hasToken, AddressTokenValidation token, int handshakesInProgress, int connectionCount)
    {
        Remote = remote;
        HasToken = hasToken;
        Token = token;
        HandshakesInProgress = handshakesInProgress;
        ConnectionCount = connectionCount;
    }

    /// <summary>The client's address (empty when the transport address is not IP).</summary>
    public PeerAddress Remote { get; }

    /// <summary>The Initial's Token field was non-empty (RFC 9000 §17.2.2).</summary>
    public bool HasToken { get; }

    /// <summary>The token's validation; meaningless when <see cref="HasToken"/> is false.</summary>
    public AddressTokenValidation Token { get; }

    /// <summary>Server connections of this endpoint whose handshake is not yet confirmed.</summary>
    public int HandshakesInProgress { get; }

    /// <summary>All connections of this endpoint.</summary>
    public int ConnectionCount { get; }

    /// <summary>RFC 9000 §8.1: the client proved it receives at this address (a valid Retry or NEW_TOKEN token).</summary>
    public bool IsAddressValidated => HasToken && Token.IsValid;

    /// <summary>
    /// An authentic Retry token that failed (expired, other address or CID). RFC 9000 §8.1.2: the client will not
    /// accept another Retry, so the server SHOULD close with INVALID_TOKEN rather than let it time out.
    /// </summary>
    public bool HasFailedRetryToken => HasToken && !Token.IsValid && Token.Kind == AddressTokenKind.Retry;
}

/// <summary>
/// Decides, per incoming client Initial that would create a connection, whether to accept, Retry, refuse or drop it:
/// the place for handshake limits (HAProxy-style). Implementations must be pure and allocation-free; they run on
/// the receive path for every such datagram, possibly under attack. The endpoint calls it after the checks RFC 9000
/// mandates regardless of policy (§14.1 datagram size, §7.2 DCID length), and a policy must not return
/// <see cref="InitialAdmissionAction.Retry"/> for an Initial carrying a valid Retry token (§17.2.5.2: a client
/// accepts one Retry per connection attempt); the built-in policies never do.
/// </summary>
internal interface IInitialAdmissionPolicy
{
    InitialAdmissionDecision Decide(in InitialAdmissionContext context);
}

/// <summary>Built-in policies. All are stateless and thread-safe.</summary>
internal static class InitialAdmissionPolicies
{
    /// <summary>Accept everything (no address validation, RFC 9000 §8.1 makes it optional); a failed Retry token still gets INVALID_TOKEN.</summary>
    public static IInitialAdmissionPolicy AlwaysAccept { get; } = new AlwaysAcceptPolicy();

    /// <summary>Retry every Initial without a valid token: every connection costs the client one extra round trip.</summary>
    public static IInitialAdmissionPolicy RetryWhenNoValidToken { get; } = new RetryAboveHandshakeLoadPolicy(0);

    /// <summary>Accept freely while fewer than <paramref name="maxHandshakes"/> handshakes are in progress, Retry above.</summary>
    public static IInitialAdmissionPolicy RetryAboveHandshakeLoad(int maxHandshakes) => new RetryAboveHandshakeLoadPolicy(maxHandshakes);

    /// <summary>Common first step: a valid token admits; a failed Retry token is refused (RFC 9000 §8.1.2).</summary>
    private static bool TryDecideFromToken(in InitialAdmissionContext context, out InitialAdmissionDecision decision)
    {
        if (context.IsAddressValidated)
        {
            decision = InitialAdmissionDecision.Accept;
            return true;
        }

        if (context.HasFailedRetryToken)
        {
            decision = InitialAdmissionDecision.Refuse(TransportErrorCode.InvalidToken);
            return true;
        }

        // RFC 9000 §8.1.3: a token that cannot be validated (unknown key, forged, an expired or foreign NEW_TOKEN
        // token) is treated as if the client had sent none.
        decision = default;
        return false;
    }

    private sealed class AlwaysAcceptPolicy : IInitialAdmissionPolicy
    {
        public InitialAdmissionDecision Decide(in InitialAdmissionContext context)
            => TryDecideFromToken(context, out InitialAdmissionDecision decision) ? decision : InitialAdmissionDecision.Accept;
    }

    private sealed class RetryAboveHandshakeLoadPolicy : IInitialAdmissionPolicy
    {
        private readonly int _maxHandshakes;

        public RetryAboveHandshakeLoadPolicy(int maxHandshakes)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(maxHandshakes);
            _maxHandshakes = maxHandshakes;
        }

        public InitialAdmissionDecision Decide(in InitialAdmissionContext context)
        {
            if (TryDecideFromToken(context, out InitialAdmissionDecision decision))
            {
                return decision;
            }

            // RFC 9000 §8.1.2: a Retry costs a round trip but no connection state; use it when load is high.
            return context.HandshakesInProgress < _maxHandshakes ? InitialAdmissionDecision.Accept : InitialAdmissionDecision.Retry;
        }
    }
}
