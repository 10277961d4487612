using AspNetQuicSteer.Quic.Tests.Packets;
using AspNetQuicSteer.Quic.TransportParameters;
using AspNetQuicSteer.Quic.Wire;
using AspNetQuicSteer.Steering.Routing;
using CsCheck;

namespace AspNetQuicSteer.Steering.Tests.Routing;

/// <summary>draft-banks-quic-cibir-01 §2.1: the cibir_encoding transport parameter and both endpoints' checks.</summary>
public sealed class CibirEncodingTests
{
    private static readonly CibirEncoding Configured = new(length: 2, offset: 0);

    [Fact]
    public void Encodes_length_then_offset_as_varints_under_id_0x1000()
    {
        var encoding = new CibirEncoding(length: 4, offset: 1);
        Assert.Equal(2, encoding.ValueLength);
        Assert.Equal(5, encoding.ParameterLength);

        Span<byte> buffer = stackalloc byte[16];
        Assert.True(encoding.TryWriteValue(buffer, out int written));
        Assert.Equal("0401", Convert.ToHexStringLower(buffer[..written]));

        // RFC 9000 §18: id 0x1000 is the 2-byte varint 0x5000, then the value length, then the value.
        Assert.True(encoding.TryWriteParameter(buffer, out written));
        Assert.Equal("5000020401", Convert.ToHexStringLower(buffer[..written]));

        Assert.False(encoding.TryWriteValue(buffer[..1], out _));
        Assert.False(encoding.TryWriteParameter(buffer[..4], out _));
    }

    [Fact]
    public void Value_round_trips_for_every_valid_length_and_offset() =>
        Gen.Int[1, CibirEncoding.MaxConnectionIdLength].SelectMany(length => Gen.Int[0, CibirEncoding.MaxConnectionIdLength - length].Select(offset => (length, offset)))
            .Sample(pair =>
            {
                var encoding = new CibirEncoding(pair.length, pair.offset);
                var buffer = new byte[encoding.ParameterLength];
                Assert.True(encoding.TryWriteParameter(buffer, out int written));
                Assert.Equal(buffer.Length, written);
                Assert.Equal(CibirLookup.Present, CibirEncoding.Find(buffer, out CibirEncoding decoded));
                Assert.Equal(encoding, decoded);
            }, iter: 10_000);

    [Theory]
    [InlineData("0401")]
    [InlineData("40044001")]            // non-minimal varints are legal (RFC 9000 §16)
    [InlineData("8000000401")]
    public void Accepts_minimal_and_non_minimal_varints(string hex)
    {
        Assert.True(CibirEncoding.TryDecodeValue(Convert.FromHexString(hex), out CibirEncoding encoding));
        Assert.Equal(new CibirEncoding(4, 1), encoding);
    }

    [Theory]
    [InlineData("")]                    // no value
    [InlineData("04")]                  // offset missing
    [InlineData("0401ff")]              // trailing byte
    [InlineData("0001")]                // zero-length ID
    [InlineData("40ff01")]              // length 255 + offset 1 > 255 (RFC 8999 §5.1)
    [InlineData("0141ff")]              // offset 511
    [InlineData("c00000010000000001")]  // 8-byte length 2^32, far too large
    [InlineData("40")]                  // truncated varint
    public void Rejects_invalid_values(string hex) =>
        Assert.False(CibirEncoding.TryDecodeValue(Convert.FromHexString(hex), out _));

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, -1)]
    [InlineData(200, 56)]
    public void Refuses_to_build_invalid_encodings(int length, int offset) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new CibirEncoding(length, offset));

    [Fact]
    public void Travels_with_the_stacks_transport_parameters_which_ignore_it()
    {
        byte[] block = ClientParameters(Configured);

        // RFC 9000 §7.4.2: the QUIC core ignores the unknown id 0x1000 and decodes the rest as usual.
        QuicTransportParameters decoded = QuicTransportParameters.Decode(block, sentByServer: false);
        Assert.Equal(1000UL, decoded.InitialMaxData);

        Assert.Equal(CibirLookup.Present, CibirEncoding.Find(block, out CibirEncoding found));
        Assert.Equal(Configured, found);
        Assert.Equal(CibirLookup.Absent, CibirEncoding.Find(ClientParameters(null), out _));
    }

    [Fact]
    public void A_repeated_or_undecodable_parameter_is_malformed()
    {
        byte[] once = ClientParameters(Configured);
        byte[] parameter = Parameter(Configured);
        Assert.Equal(CibirLookup.Malformed, CibirEncoding.Find([.. once, .. parameter], out _)); // RFC 9000 §7.4
        Assert.Equal(CibirLookup.Malformed, CibirEncoding.Find([.. ClientParameters(null), 0x50, 0x00, 0x01, 0x02], out _));
        Assert.Equal(CibirLookup.Malformed, CibirEncoding.Find(once.AsSpan(..^1), out _));
        Assert.Equal(CibirLookup.Malformed, CibirEncoding.Find([0x40], out _));
    }

    [Fact]
    public void Server_accepts_the_configured_value() // draft §2.1
    {
        CibirValidation result = CibirEncoding.ValidateClientParameters(ClientParameters(Configured), Configured);
        Assert.True(result.IsValid);
        Assert.Null(result.Error);
        Assert.Equal(Configured, result.Received);
    }

    [Fact]
    public void Server_refuses_a_missing_or_different_value_with_connection_refused() // draft §2.1
    {
        CibirValidation missing = CibirEncoding.ValidateClientParameters(ClientParameters(null), Configured);
        Assert.Equal((CibirOutcome.Missing, TransportErrorCode.ConnectionRefused), (missing.Outcome, missing.Error));
        Assert.Contains("did not send", missing.Describe(Configured), StringComparison.Ordinal);

        foreach (CibirEncoding other in (CibirEncoding[])[new(2, 1), new(3, 0), new(1, 0)])
        {
            CibirValidation different = CibirEncoding.ValidateClientParameters(ClientParameters(other), Configured);
            Assert.Equal((CibirOutcome.Mismatch, TransportErrorCode.ConnectionRefused, other), (different.Outcome, different.Error, different.Received));
            Assert.Contains(other.ToString(), different.Describe(Configured), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Server_treats_an_undecodable_value_as_transport_parameter_error() // RFC 9000 §7.4
    {
        byte[] block = [.. ClientParameters(null), 0x50, 0x00, 0x03, 0x02, 0x00, 0xff];
        CibirValidation result = CibirEncoding.ValidateClientParameters(block, Configured);
        Assert.Equal((CibirOutcome.Malformed, TransportErrorCode.TransportParameterError), (result.Outcome, result.Error));
        Assert.Null(result.Received);
    }

    [Fact]
    public void Client_checks_the_server_cooperates_and_refuses_otherwise_with_transport_parameter_error() // draft §2.1
    {
        Assert.True(CibirEncoding.ValidateServerParameters(Parameter(Configured), Configured).IsValid);

        CibirValidation missing = CibirEncoding.ValidateServerParameters([], Configured);
        Assert.Equal((CibirOutcome.Missing, TransportErrorCode.TransportParameterError), (missing.Outcome, missing.Error));

        CibirValidation different = CibirEncoding.ValidateServerParameters(Parameter(new CibirEncoding(2, 3)), Configured);
        Assert.Equal((CibirOutcome.Mismatch, TransportErrorCode.TransportParameterError), (different.Outcome, different.Error));

        CibirValidation malformed = CibirEncoding.ValidateServerParameters([0x50, 0x00, 0x01], Configured);
        Assert.Equal((CibirOutcome.Malformed, TransportErrorCode.TransportParameterError), (malformed.Outcome, malformed.Error));
    }

    [Fact]
    public void Mutated_transport_parameters_never_throw() =>
        Mutations.Of(ClientParameters(Configured), Parameter(new CibirEncoding(6, 14)), ClientParameters(null)).Sample(block =>
        {
            CibirLookup lookup = CibirEncoding.Find(block, out CibirEncoding found);
            Assert.Equal(lookup == CibirLookup.Present, found != default);
            CibirValidation server = CibirEncoding.ValidateClientParameters(block, Configured);
            Assert.Equal(server.IsValid, server.Error is null);
            CibirValidation client = CibirEncoding.ValidateServerParameters(block, Configured);
            Assert.True(client.IsValid || client.Error == TransportErrorCode.TransportParameterError);
        }, iter: 20_000);

    private static byte[] Parameter(CibirEncoding encoding)
    {
        var bytes = new byte[encoding.ParameterLength];
        Assert.True(encoding.TryWriteParameter(bytes, out _));
        return bytes;
    }

    private static byte[] ClientParameters(CibirEncoding? cibir)
    {
        var parameters = new QuicTransportParameters
        {
            InitialSourceConnectionId = new ConnectionId([0xc1, 0xb1, 1, 2, 3, 4, 5, 6]),
            InitialMaxData = 1000,
            MaxIdleTimeoutMilliseconds = 30_000,
        };
        var bytes = new byte[parameters.GetEncodedLength()];
        parameters.Encode(bytes);
        return cibir is { } value ? [.. bytes, .. Parameter(value)] : bytes;
    }
}
