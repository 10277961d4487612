using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Endpoint.Stateless;
using AspNetQuicSteer.Quic.Packets;
using AspNetQuicSteer.Quic.Tests.Packets;
using AspNetQuicSteer.Quic.TransportParameters;
using CsCheck;
using static AspNetQuicSteer.Quic.Tests.Endpoint.StatelessTestData;

namespace AspNetQuicSteer.Quic.Tests.Endpoint;

/// <summary>
/// Architecture invariant 7 (bad input never throws) for the stateless paths, and the security property that nothing
/// but a token we sealed, unmodified, validates.
/// </summary>
public sealed class StatelessFuzzTests : IDisposable
{
    private const int Iterations = 100_000;

    private static readonly StatelessResetToken ResetToken = new StatelessResetTokenGenerator(new StatelessKeyRing(Secret(3))).Compute(RetryScid);

    private readonly AddressValidationTokenProtector _protector = new(new StatelessKeyRing(Secret(0)));

    public void Dispose() => _protector.Dispose();

    [Fact]
    public void RandomTokensNeverThrowAndNeverValidate()
    {
        // Lengths around the valid range; the first byte is often the real key id so the AEAD path is exercised.
        byte keyId = new StatelessKeyRing(Secret(0)).Current.KeyId;
        Gen.Select(Gen.Byte.Array[0, AddressValidationTokenProtector.MaxTokenLength + 20], Gen.Bool)
            .Sample((bytes, useKeyId) =>
            {
                if (useKeyId && bytes.Length > 0)
                {
                    bytes[0] = keyId;
                }

                AddressTokenValidation result = _protector.Validate(bytes, Client, RetryScid, Now);
                return !result.IsValid && result.Kind == AddressTokenKind.None;
            }, iter: Iterations);
    }

    [Fact]
    public void MutatedTokensNeverThrowAndNeverValidate()
    {
        byte[] retry = RetryToken(_protector, Client, Now);
        byte[] newToken = NewToken(_protector, Client, Now);
        Assert.True(_protector.Validate(retry, Client, RetryScid, Now).IsValid);
        Assert.True(_protector.Validate(newToken, Client, RetryScid, Now).IsValid);
        Mutations.Of(retry, newToken)
            .Sample(mutated =>
                mutated.AsSpan().SequenceEqual(retry) || mutated.AsSpan().SequenceEqual(newToken) // an edit that changed nothing
                || !_protector.Validate(mutated, Client, RetryScid, Now).IsValid, iter: Iterations);
    }

    [Fact]
    public void RandomDatagramsAreNeverTakenForAStatelessReset()
    {
        // RFC 9000 §10.3.1: only a datagram ending in an issued token is a reset; a random tail matches with 2^-128.
        StatelessResetToken[] tokens = [ResetToken, new StatelessResetTokenGenerator(new StatelessKeyRing(Secret(4))).Compute(RetryScid)];
        Gen.Byte.Array[0, 1500].Sample(datagram => !StatelessReset.IsStatelessReset(datagram, tokens), iter: Iterations);
    }

    [Fact]
    public void MutatedResetsAreRecognizedOnlyWithAnIntactTail()
    {
        byte[] reset = new byte[64];
        Assert.True(StatelessReset.TryWrite(1200, ResetToken, reset, out int length));
        reset = reset[..length];
        Mutations.Of(reset).Sample(
            mutated => StatelessReset.IsStatelessReset(mutated, ResetToken)
                == (mutated.Length >= StatelessReset.MinimumLength && mutated.AsSpan(mutated.Length - 16).SequenceEqual(ResetToken.Span)),
            iter: Iterations);
    }

    [Fact]
    public void ResetBuilderHonorsTheSizeRulesForEveryTrigger()
    {
        // CsCheck samples on several threads: the buffer is per call.
        Gen.Select(Gen.Int[-10, 70_000], Gen.Int[StatelessReset.MinimumLength, 1500]).Sample((trigger, cap) =>
        {
            Span<byte> buffer = stackalloc byte[1500];
            if (!StatelessReset.TryWrite(trigger, ResetToken, buffer, out int length, cap))
            {
                return trigger < StatelessReset.MinimumTriggerLength;
            }

            // §10.3: >= 21 bytes, < trigger (§10.3.3), short-header form, token last.
            return length >= StatelessReset.MinimumLength && length < trigger && length <= cap
                && (buffer[0] & 0xC0) == 0x40 && buffer.Slice(length - 16, 16).SequenceEqual(ResetToken.Span);
        }, iter: Iterations);
    }

    [Fact]
    public void MutatedRetriesNeverThrowAndNeverValidate()
    {
        byte[] initial = RetryPacketsTests.ClientInitial(OriginalDcid, [0xc1, 0xc2]);
        Assert.True(PacketHeader.TryParse(initial, 8, out PacketHeader initialHeader));
        byte[] buffer = new byte[RetryPackets.MaxLength];
        Assert.True(RetryPackets.TryWrite(_protector, new RandomConnectionIdGenerator(8), Client, initial, initialHeader, Now, buffer, out int length, out _));
        byte[] retry = buffer[..length];
        byte[] rfcRetry = Convert.FromHexString(Crypto.Rfc9001Vectors.RetryPacket);

        Mutations.Of(retry, rfcRetry).Sample(mutated =>
        {
            if (mutated.AsSpan().SequenceEqual(retry) || mutated.AsSpan().SequenceEqual(rfcRetry)
                || !PacketHeader.TryParse(mutated, 0, out PacketHeader header))
            {
                return true;
            }

            return RetryPackets.Validate(mutated, header, QuicConnection.Version1, OriginalDcid, [0xc1, 0xc2]) != RetryValidationResult.Valid
                && RetryPackets.Validate(mutated, header, QuicConnection.Version1, OriginalDcid, []) != RetryValidationResult.Valid;
        }, iter: Iterations);
    }
}
