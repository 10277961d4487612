using AspNetQuicSteer.Quic.Endpoint.Stateless;
using AspNetQuicSteer.Quic.Wire;
using static AspNetQuicSteer.Quic.Tests.Endpoint.StatelessTestData;

namespace AspNetQuicSteer.Quic.Tests.Endpoint;

public sealed class InitialAdmissionPolicyTests
{
    private static InitialAdmissionContext NoToken(int handshakes = 0)
        => new(Client, hasToken: false, default, handshakes, handshakes);

    private static InitialAdmissionContext WithToken(AddressTokenValidationResult result, AddressTokenKind kind, int handshakes = 0)
        => new(Client, hasToken: true, new AddressTokenValidation(result, kind, default, default), handshakes, handshakes);

    // Enum values as ints: the enums are internal and theory parameters of public tests must be public types.
    public static TheoryData<int, int> UnusableTokens => new()
    {
        // RFC 9000 §8.1.3: a token the server cannot validate is as good as none.
        { (int)AddressTokenValidationResult.Malformed, (int)AddressTokenKind.None },
        { (int)AddressTokenValidationResult.UnknownKey, (int)AddressTokenKind.None },
        { (int)AddressTokenValidationResult.Expired, (int)AddressTokenKind.NewToken },
        { (int)AddressTokenValidationResult.WrongAddress, (int)AddressTokenKind.NewToken },
        { (int)AddressTokenValidationResult.WrongType, (int)AddressTokenKind.NewToken },
    };

    public static TheoryData<int> FailedRetryTokenResults => new()
    {
        (int)AddressTokenValidationResult.Expired,
        (int)AddressTokenValidationResult.WrongAddress,
        (int)AddressTokenValidationResult.WrongConnectionId,
        (int)AddressTokenValidationResult.WrongType,
    };

    [Fact]
    public void ContextReportsValidation()
    {
        Assert.False(NoToken().IsAddressValidated);
        Assert.False(NoToken().HasFailedRetryToken);
        Assert.True(WithToken(AddressTokenValidationResult.Valid, AddressTokenKind.NewToken).IsAddressValidated);
        Assert.True(WithToken(AddressTokenValidationResult.Expired, AddressTokenKind.Retry).HasFailedRetryToken);
        Assert.False(WithToken(AddressTokenValidationResult.Expired, AddressTokenKind.NewToken).HasFailedRetryToken);

        // A default (Valid-looking) validation does not count when the Initial had no token.
        Assert.False(new InitialAdmissionContext(Client, false, new AddressTokenValidation(AddressTokenValidationResult.Valid, AddressTokenKind.Retry, default, default), 0, 0).IsAddressValidated);
    }

    [Fact]
    public void AlwaysAcceptAcceptsWithoutTokenAndUnderLoad()
    {
        IInitialAdmissionPolicy policy = InitialAdmissionPolicies.AlwaysAccept;
        Assert.Equal(InitialAdmissionDecision.Accept, policy.Decide(NoToken()));
        Assert.Equal(InitialAdmissionDecision.Accept, policy.Decide(NoToken(handshakes: 1_000_000)));
        Assert.Equal(InitialAdmissionDecision.Accept, policy.Decide(WithToken(AddressTokenValidationResult.Malformed, AddressTokenKind.None)));
        Assert.Equal(InitialAdmissionDecision.Accept, policy.Decide(WithToken(AddressTokenValidationResult.Valid, AddressTokenKind.Retry)));
    }

    [Theory]
    [MemberData(nameof(UnusableTokens))]
    public void RetryWhenNoValidTokenRetriesUnusableTokens(int result, int kind)
    {
        InitialAdmissionContext context = WithToken((AddressTokenValidationResult)result, (AddressTokenKind)kind);
        Assert.Equal(InitialAdmissionDecision.Retry, InitialAdmissionPolicies.RetryWhenNoValidToken.Decide(context));
    }

    [Theory]
    [InlineData((int)AddressTokenKind.Retry)]
    [InlineData((int)AddressTokenKind.NewToken)]
    public void ValidTokensAreAcceptedByEveryPolicy(int kind)
    {
        InitialAdmissionContext context = WithToken(AddressTokenValidationResult.Valid, (AddressTokenKind)kind, handshakes: 1_000_000);
        Assert.Equal(InitialAdmissionDecision.Accept, InitialAdmissionPolicies.RetryWhenNoValidToken.Decide(context));
        Assert.Equal(InitialAdmissionDecision.Accept, InitialAdmissionPolicies.RetryAboveHandshakeLoad(10).Decide(context));
        Assert.Equal(InitialAdmissionDecision.Accept, InitialAdmissionPolicies.AlwaysAccept.Decide(context));
    }

    [Theory]
    [MemberData(nameof(FailedRetryTokenResults))]
    public void FailedRetryTokensAreRefusedWithInvalidToken(int result)
    {
        // RFC 9000 §8.1.2: the client will not accept a second Retry, so close with INVALID_TOKEN instead of Retrying.
        InitialAdmissionContext context = WithToken((AddressTokenValidationResult)result, AddressTokenKind.Retry);
        var expected = InitialAdmissionDecision.Refuse(TransportErrorCode.InvalidToken);
        Assert.Equal(expected, InitialAdmissionPolicies.RetryWhenNoValidToken.Decide(context));
        Assert.Equal(expected, InitialAdmissionPolicies.RetryAboveHandshakeLoad(10).Decide(context));
        Assert.Equal(expected, InitialAdmissionPolicies.AlwaysAccept.Decide(context));
    }

    [Fact]
    public void RetryWhenNoValidTokenRetriesTokenlessInitials()
    {
        Assert.Equal(InitialAdmissionDecision.Retry, InitialAdmissionPolicies.RetryWhenNoValidToken.Decide(NoToken()));
    }

    [Fact]
    public void RetryAboveHandshakeLoadSwitchesAtTheThreshold()
    {
        IInitialAdmissionPolicy policy = InitialAdmissionPolicies.RetryAboveHandshakeLoad(3);
        Assert.Equal(InitialAdmissionDecision.Accept, policy.Decide(NoToken(handshakes: 2)));
        Assert.Equal(InitialAdmissionDecision.Retry, policy.Decide(NoToken(handshakes: 3)));
        Assert.Equal(InitialAdmissionDecision.Retry, policy.Decide(WithToken(AddressTokenValidationResult.UnknownKey, AddressTokenKind.None, handshakes: 4)));
        Assert.Equal(InitialAdmissionDecision.Accept, policy.Decide(WithToken(AddressTokenValidationResult.UnknownKey, AddressTokenKind.None, handshakes: 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => InitialAdmissionPolicies.RetryAboveHandshakeLoad(-1));
    }

    [Fact]
    public void RefuseDefaultsToConnectionRefused()
    {
        // RFC 9000 §5.2.2: a server refusing a connection uses CONNECTION_REFUSED.
        Assert.Equal(new InitialAdmissionDecision(InitialAdmissionAction.Refuse, TransportErrorCode.ConnectionRefused), InitialAdmissionDecision.Refuse());
        Assert.Equal(InitialAdmissionAction.Drop, InitialAdmissionDecision.Drop.Action);
    }
}
