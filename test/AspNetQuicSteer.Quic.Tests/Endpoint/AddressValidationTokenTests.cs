using System.Buffers.Binary;
using System.Net;
using AspNetQuicSteer.Quic.Endpoint.Stateless;
using NSec.Cryptography;
using static AspNetQuicSteer.Quic.Tests.Endpoint.StatelessTestData;

namespace AspNetQuicSteer.Quic.Tests.Endpoint;

public sealed class AddressValidationTokenTests : IDisposable
{
    private readonly AddressValidationTokenProtector _protector = new(new StatelessKeyRing(Secret(0)));

    public void Dispose() => _protector.Dispose();

    [Fact]
    public void RetryTokenRoundTripsWithItsConnectionIds()
    {
        // RFC 9000 §8.1.2 / §7.3: the server recovers the ODCID and Retry SCID for its transport parameters.
        byte[] token = RetryToken(_protector, Client, Now);
        Assert.Equal(AddressValidationTokenProtector.GetRetryTokenLength(Client, OriginalDcid.Length, RetryScid.Length), token.Length);
        AddressTokenValidation result = _protector.Validate(token, Client, RetryScid, Now.AddSeconds(1));
        Assert.Equal(AddressTokenValidationResult.Valid, result.Result);
        Assert.Equal(AddressTokenKind.Retry, result.Kind);
        Assert.True(result.OriginalDestinationConnectionId.Equals(OriginalDcid));
        Assert.True(result.RetrySourceConnectionId.Equals(RetryScid));
    }

    [Fact]
    public void RetryTokenRoundTripsWithEmptyAndMaximalConnectionIds()
    {
        byte[] twenty = Enumerable.Range(0, 20).Select(i => (byte)i).ToArray();
        byte[] buffer = new byte[AddressValidationTokenProtector.MaxTokenLength];
        int length = _protector.WriteRetryToken(ClientV6, twenty, [], Now, buffer);
        Assert.Equal(AddressValidationTokenProtector.MaxTokenLength - 20, length);
        AddressTokenValidation result = _protector.Validate(buffer.AsSpan(0, length), ClientV6, [], Now);
        Assert.Equal(AddressTokenValidationResult.Valid, result.Result);
        Assert.True(result.OriginalDestinationConnectionId.Equals(twenty));
        Assert.True(result.RetrySourceConnectionId.IsEmpty);

        length = _protector.WriteRetryToken(ClientV6, twenty, twenty.Reverse().ToArray(), Now, buffer);
        Assert.Equal(AddressValidationTokenProtector.MaxTokenLength, length);
        Assert.True(_protector.Validate(buffer, ClientV6, twenty.Reverse().ToArray(), Now).IsValid);
    }

    [Fact]
    public void NewTokenRoundTripsAndCarriesNoConnectionId()
    {
        // RFC 9000 §8.1.3: a NEW_TOKEN token is for a future connection, so it holds no CID and is valid for any DCID.
        byte[] token = NewToken(_protector, Client, Now);
        Assert.Equal(AddressValidationTokenProtector.GetNewTokenLength(Client), token.Length);
        Assert.Equal(AddressValidationTokenProtector.MinTokenLength, token.Length);
        foreach (byte[] dcid in new[] { OriginalDcid, RetryScid, Array.Empty<byte>() })
        {
            AddressTokenValidation result = _protector.Validate(token, Client, dcid, Now.AddHours(23));
            Assert.Equal(AddressTokenValidationResult.Valid, result.Result);
            Assert.Equal(AddressTokenKind.NewToken, result.Kind);
            Assert.True(result.OriginalDestinationConnectionId.IsEmpty);
        }
    }

    [Fact]
    public void TokensAreUniqueEvenForTheSameInputs()
    {
        // RFC 9000 §8.1.3: tokens must not let an observer link connections; the random nonce makes each one unique.
        Assert.NotEqual(NewToken(_protector, Client, Now), NewToken(_protector, Client, Now));
        Assert.NotEqual(RetryToken(_protector, Client, Now), RetryToken(_protector, Client, Now));
    }

    [Theory]
    [InlineData(9_999, true)]
    [InlineData(10_000, true)]
    [InlineData(10_001, false)]
    [InlineData(-4_000, true)]      // issuer's clock slightly ahead: within skew
    [InlineData(-5_001, false)]     // issued implausibly far in the future
    public void RetryTokensExpireAfterTenSeconds(int ageMilliseconds, bool valid)
    {
        AddressTokenValidationResult expected = valid ? AddressTokenValidationResult.Valid : AddressTokenValidationResult.Expired;
        // RFC 9000 §8.1.2: Retry tokens are only used right away, so their lifetime is short.
        byte[] token = RetryToken(_protector, Client, Now);
        AddressTokenValidation result = _protector.Validate(token, Client, RetryScid, Now.AddMilliseconds(ageMilliseconds));
        Assert.Equal(expected, result.Result);
        Assert.Equal(AddressTokenKind.Retry, result.Kind);
    }

    [Fact]
    public void NewTokensExpireAfterADay()
    {
        byte[] token = NewToken(_protector, Client, Now);
        Assert.True(_protector.Validate(token, Client, [], Now.AddHours(24)).IsValid);
        Assert.Equal(AddressTokenValidationResult.Expired, _protector.Validate(token, Client, [], Now.AddHours(24).AddMilliseconds(1)).Result);
    }

    [Fact]
    public void LifetimesAreConfigurable()
    {
        using var protector = new AddressValidationTokenProtector(
            new StatelessKeyRing(Secret(0)),
            new AddressValidationTokenOptions { RetryTokenLifetime = TimeSpan.FromSeconds(1), NewTokenLifetime = TimeSpan.FromMinutes(1) });
        Assert.Equal(AddressTokenValidationResult.Expired, protector.Validate(RetryToken(protector, Client, Now), Client, RetryScid, Now.AddSeconds(2)).Result);
        Assert.Equal(AddressTokenValidationResult.Expired, protector.Validate(NewToken(protector, Client, Now), Client, [], Now.AddMinutes(2)).Result);
    }

    [Fact]
    public void RetryTokensAreBoundToAddressAndPort()
    {
        // RFC 9000 §8.1.2: the Retry token proves the client receives at this exact transport address.
        byte[] token = RetryToken(_protector, Client, Now);
        Assert.Equal(AddressTokenValidationResult.WrongAddress, _protector.Validate(token, ClientOtherPort, RetryScid, Now).Result);
        Assert.Equal(AddressTokenValidationResult.WrongAddress, _protector.Validate(token, OtherClient, RetryScid, Now).Result);
        Assert.Equal(AddressTokenValidationResult.WrongAddress, _protector.Validate(token, ClientV6, RetryScid, Now).Result);
    }

    [Fact]
    public void NewTokensAreBoundToTheIpOnly()
    {
        // RFC 9000 §8.1.3: a later connection usually comes from another port, so only the IP is checked.
        byte[] token = NewToken(_protector, Client, Now);
        Assert.True(_protector.Validate(token, ClientOtherPort, [], Now).IsValid);
        Assert.Equal(AddressTokenValidationResult.WrongAddress, _protector.Validate(token, OtherClient, [], Now).Result);
        Assert.Equal(AddressTokenValidationResult.WrongAddress, _protector.Validate(token, ClientV6, [], Now).Result);
    }

    [Fact]
    public void IPv4MappedAddressesMatchTheirIPv4Form()
    {
        // A dual-stack socket reports ::ffff:a.b.c.d; a token issued on an IPv4 socket must still validate.
        PeerAddress mapped = PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Parse("::ffff:192.0.2.10"), 50000));
        Assert.Equal(Client, mapped);
        Assert.True(_protector.Validate(RetryToken(_protector, mapped, Now), Client, RetryScid, Now).IsValid);
    }

    [Fact]
    public void RetryTokenNeedsTheRetrySourceConnectionIdAsDcid()
    {
        // RFC 9000 §7.2: after a Retry the client's Initial is sent to the Retry's SCID.
        byte[] token = RetryToken(_protector, Client, Now);
        AddressTokenValidation result = _protector.Validate(token, Client, OriginalDcid, Now);
        Assert.Equal(AddressTokenValidationResult.WrongConnectionId, result.Result);
        Assert.Equal(AddressTokenKind.Retry, result.Kind);
    }

    [Fact]
    public void TokenKindsAreNotInterchangeable()
    {
        // RFC 9000 §8.1.4: a server must be able to tell Retry tokens from NEW_TOKEN tokens.
        byte[] retry = RetryToken(_protector, Client, Now);
        byte[] newToken = NewToken(_protector, Client, Now);
        AddressTokenValidation asNewToken = _protector.Validate(retry, Client, RetryScid, Now, AcceptedAddressTokenKinds.NewToken);
        Assert.Equal(AddressTokenValidationResult.WrongType, asNewToken.Result);
        Assert.Equal(AddressTokenKind.Retry, asNewToken.Kind);
        AddressTokenValidation asRetry = _protector.Validate(newToken, Client, RetryScid, Now, AcceptedAddressTokenKinds.Retry);
        Assert.Equal(AddressTokenValidationResult.WrongType, asRetry.Result);
        Assert.Equal(AddressTokenKind.NewToken, asRetry.Kind);
        Assert.True(_protector.Validate(retry, Client, RetryScid, Now, AcceptedAddressTokenKinds.Retry).IsValid);
        Assert.True(_protector.Validate(newToken, Client, RetryScid, Now, AcceptedAddressTokenKinds.NewToken).IsValid);
    }

    [Fact]
    public void EveryBitFlipIsRejected()
    {
        foreach (byte[] token in new[] { RetryToken(_protector, Client, Now), NewToken(_protector, Client, Now) })
        {
            for (int bit = 0; bit < token.Length * 8; bit++)
            {
                byte[] tampered = (byte[])token.Clone();
                tampered[bit / 8] ^= (byte)(1 << (bit % 8));
                AddressTokenValidationResult result = _protector.Validate(tampered, Client, RetryScid, Now).Result;

                // Byte 0 is the key id: flipping it names an unknown key; anything else fails authentication.
                Assert.Equal(bit < 8 ? AddressTokenValidationResult.UnknownKey : AddressTokenValidationResult.Malformed, result);
            }
        }
    }

    [Fact]
    public void TruncatedAndExtendedTokensAreRejected()
    {
        byte[] token = RetryToken(_protector, Client, Now);
        for (int length = 0; length < token.Length; length++)
        {
            // Below the minimum: rejected by length; above it: the AEAD tag no longer verifies.
            Assert.Equal(AddressTokenValidationResult.Malformed, _protector.Validate(token.AsSpan(0, length), Client, RetryScid, Now).Result);
        }

        byte[] extended = [.. token, 0];
        Assert.Equal(AddressTokenValidationResult.Malformed, _protector.Validate(extended, Client, RetryScid, Now).Result);
        Assert.Equal(AddressTokenValidationResult.Malformed, _protector.Validate(new byte[AddressValidationTokenProtector.MaxTokenLength + 1], Client, RetryScid, Now).Result);
    }

    [Fact]
    public void GenerationsWithTheSameSecretValidateEachOthersTokens()
    {
        // ARCHITECTURE.md §4: any generation may receive the Initial that carries another generation's token.
        using var generation1 = new AddressValidationTokenProtector(new StatelessKeyRing(Secret(5)));
        using var generation2 = new AddressValidationTokenProtector(new StatelessKeyRing(Secret(5)));
        Assert.True(generation2.Validate(RetryToken(generation1, Client, Now), Client, RetryScid, Now).IsValid);
        Assert.True(generation1.Validate(NewToken(generation2, Client, Now), Client, [], Now).IsValid);
    }

    [Fact]
    public void DifferentSecretsDoNotInteroperate()
    {
        (byte[] a, byte[] b) = SecretsWithDistinctKeyIds();
        using var protectorA = new AddressValidationTokenProtector(new StatelessKeyRing(a));
        using var protectorB = new AddressValidationTokenProtector(new StatelessKeyRing(b));
        Assert.Equal(AddressTokenValidationResult.UnknownKey, protectorB.Validate(RetryToken(protectorA, Client, Now), Client, RetryScid, Now).Result);
        Assert.Equal(AddressTokenValidationResult.UnknownKey, protectorA.Validate(NewToken(protectorB, Client, Now), Client, [], Now).Result);
    }

    [Fact]
    public void ADifferentSecretWithTheSameKeyIdFailsAuthentication()
    {
        byte[] a = Secret(0);
        byte keyId = new StatelessKeyRing(a).Current.KeyId;
        byte[] b = Enumerable.Range(1, 10_000).Select(Secret).First(s => !s.AsSpan().SequenceEqual(a) && new StatelessKeyRing(s).Current.KeyId == keyId);
        using var protectorA = new AddressValidationTokenProtector(new StatelessKeyRing(a));
        using var protectorB = new AddressValidationTokenProtector(new StatelessKeyRing(b));
        Assert.Equal(AddressTokenValidationResult.Malformed, protectorB.Validate(RetryToken(protectorA, Client, Now), Client, RetryScid, Now).Result);
    }

    [Fact]
    public void RotationAcceptsCurrentAndPreviousKeys()
    {
        (byte[] oldSecret, byte[] newSecret) = SecretsWithDistinctKeyIds();
        using var before = new AddressValidationTokenProtector(new StatelessKeyRing(oldSecret));
        using var during = new AddressValidationTokenProtector(new StatelessKeyRing(newSecret, oldSecret));
        using var after = new AddressValidationTokenProtector(new StatelessKeyRing(newSecret));

        byte[] oldToken = NewToken(before, Client, Now);
        byte[] newToken = NewToken(during, Client, Now);
        Assert.Equal(new StatelessKeyRing(newSecret).Current.KeyId, newToken[0]); // sealed under the current key
        Assert.True(during.Validate(oldToken, Client, [], Now).IsValid);
        Assert.True(during.Validate(newToken, Client, [], Now).IsValid);
        Assert.True(after.Validate(newToken, Client, [], Now).IsValid);
        Assert.Equal(AddressTokenValidationResult.UnknownKey, after.Validate(oldToken, Client, [], Now).Result);
        Assert.Equal(AddressTokenValidationResult.UnknownKey, before.Validate(newToken, Client, [], Now).Result);
    }

    [Fact]
    public void RotationWithCollidingKeyIdsTriesBothKeys()
    {
        byte[] a = Secret(0);
        byte keyId = new StatelessKeyRing(a).Current.KeyId;
        byte[] b = Enumerable.Range(1, 10_000).Select(Secret).First(s => new StatelessKeyRing(s).Current.KeyId == keyId);
        using var oldGeneration = new AddressValidationTokenProtector(new StatelessKeyRing(a));
        using var rotated = new AddressValidationTokenProtector(new StatelessKeyRing(b, a));
        Assert.True(rotated.Validate(RetryToken(oldGeneration, Client, Now), Client, RetryScid, Now).IsValid);
        Assert.True(rotated.Validate(RetryToken(rotated, Client, Now), Client, RetryScid, Now).IsValid);
    }

    [Fact]
    public void AHandBuiltTokenInTheDocumentedLayoutValidates()
    {
        // Pins the wire layout (documented on AddressValidationTokenProtector) independently of the writer: generations
        // from different builds must keep reading each other's tokens.
        var ring = new StatelessKeyRing(Secret(0));
        Assert.Equal(ring.Current.KeyId, new StatelessKeyRing(Secret(0)).Current.KeyId);
        byte[] plaintext = [(byte)AddressTokenKind.NewToken, .. new byte[8], 4, 192, 0, 2, 10];
        BinaryPrimitives.WriteInt64BigEndian(plaintext.AsSpan(1), Now.ToUnixTimeMilliseconds());
        byte[] nonce = Enumerable.Range(100, 24).Select(i => (byte)i).ToArray();
        using Key key = Key.Import(AeadAlgorithm.XChaCha20Poly1305, ring.Current.TokenKey, KeyBlobFormat.RawSymmetricKey);
        byte[] ciphertext = AeadAlgorithm.XChaCha20Poly1305.Encrypt(key, nonce, [ring.Current.KeyId], plaintext);
        byte[] token = [ring.Current.KeyId, .. nonce, .. ciphertext];

        AddressTokenValidation result = _protector.Validate(token, ClientOtherPort, [], Now);
        Assert.Equal(AddressTokenValidationResult.Valid, result.Result);
        Assert.Equal(AddressTokenKind.NewToken, result.Kind);

        // The same layout with an unknown kind byte or trailing plaintext is authentic but Malformed.
        foreach (byte[] bad in new byte[][] { [9, .. plaintext[1..]], [.. plaintext, 0] })
        {
            byte[] sealedBad = AeadAlgorithm.XChaCha20Poly1305.Encrypt(key, nonce, [ring.Current.KeyId], bad);
            Assert.Equal(AddressTokenValidationResult.Malformed, _protector.Validate([ring.Current.KeyId, .. nonce, .. sealedBad], Client, [], Now).Result);
        }
    }

    [Fact]
    public void WritingRejectsCallerBugs()
    {
        byte[] buffer = new byte[AddressValidationTokenProtector.MaxTokenLength];
        Assert.Throws<ArgumentException>(() => _protector.WriteNewToken(default, Now, buffer));
        Assert.Throws<ArgumentException>(() => _protector.WriteRetryToken(Client, new byte[21], RetryScid, Now, buffer));
        Assert.Throws<ArgumentOutOfRangeException>(() => _protector.WriteNewToken(Client, Now, new byte[10]));
    }
}
