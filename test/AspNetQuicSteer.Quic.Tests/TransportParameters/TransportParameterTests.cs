using System.Collections.Immutable;
using AspNetQuicSteer.Quic.Tests.Packets;
using AspNetQuicSteer.Quic.TransportParameters;
using AspNetQuicSteer.Quic.Wire;
using CsCheck;

namespace AspNetQuicSteer.Quic.Tests.TransportParameters;

public sealed class TransportParameterTests
{
    // initial_source_connection_id (0x0f) with a 4-byte CID: mandatory from both sides (RFC 9000 §7.3).
    private const string InitialScid = "0f04a1a2a3a4";

    // original_destination_connection_id (0x00): mandatory from the server.
    private const string OriginalDcid = "0008" + "8394c8f03e515708";

    private static QuicTransportParameters DecodeHex(string hex, bool sentByServer)
        => QuicTransportParameters.Decode(Convert.FromHexString(hex), sentByServer);

    private static QuicTransportParameters FullServerSet() => new()
    {
        OriginalDestinationConnectionId = new ConnectionId(Convert.FromHexString("8394c8f03e515708")),
        MaxIdleTimeoutMilliseconds = 30_000,
        StatelessResetToken = new StatelessResetToken(Convert.FromHexString("000102030405060708090a0b0c0d0e0f")),
        MaxUdpPayloadSize = 1472,
        InitialMaxData = 1 << 20,
        InitialMaxStreamDataBidiLocal = 65536,
        InitialMaxStreamDataBidiRemote = 65537,
        InitialMaxStreamDataUni = 65538,
        InitialMaxStreamsBidi = 100,
        InitialMaxStreamsUni = 3,
        AckDelayExponent = 8,
        MaxAckDelayMilliseconds = 20,
        DisableActiveMigration = true,
        PreferredAddress = new PreferredAddress(
            0xc0000201, 443, UInt128.Parse("20010db8000000000000000000000001", System.Globalization.NumberStyles.HexNumber), 8443,
            new ConnectionId([1, 2, 3, 4, 5, 6, 7, 8]), new StatelessResetToken(new byte[16])),
        ActiveConnectionIdLimit = 4,
        InitialSourceConnectionId = new ConnectionId([0xa1, 0xa2]),
        RetrySourceConnectionId = new ConnectionId([0xb1]),
        MaxDatagramFrameSize = 1200,
        GreaseQuicBit = true,
        VersionInformation = new VersionInformation(1, [1, 0x1a2a3a4a]),
        GreaseParameterId = 31 * 7 + 27,
    };

    [Fact]
    public void ExtensionParametersAreAppendedVerbatimAndIgnoredByTheDecoder()
    {
        // RFC 9000 §18: more (id, length, value) triples; §7.4.2: unknown parameters are ignored. cibir_encoding
        // (draft-banks-quic-cibir-01 §2.1, id 0x1000 = varint 5000) with length 2, offset 0.
        byte[] extension = Convert.FromHexString("5000020200");
        var parameters = new QuicTransportParameters { InitialSourceConnectionId = new ConnectionId([0xA1, 0xA2, 0xA3, 0xA4]), Extensions = extension };
        byte[] encoded = new byte[parameters.GetEncodedLength()];
        Assert.Equal(encoded.Length, parameters.Encode(encoded));
        Assert.Equal(InitialScid + "5000020200", Convert.ToHexString(encoded).ToLowerInvariant());
        QuicTransportParameters decoded = QuicTransportParameters.Decode(encoded, sentByServer: false);
        Assert.Equal(parameters.InitialSourceConnectionId, decoded.InitialSourceConnectionId);
        Assert.True(decoded.Extensions.IsEmpty);
    }

    [Fact]
    public void FullParameterSetRoundTrips()
    {
        QuicTransportParameters original = FullServerSet();
        var buffer = new byte[original.GetEncodedLength()];
        Assert.Equal(buffer.Length, original.Encode(buffer));
        QuicTransportParameters decoded = QuicTransportParameters.Decode(buffer, sentByServer: true);
        AssertSame(original, decoded);
        Assert.Equal("192.0.2.1:443", decoded.PreferredAddress!.Value.GetIPv4EndPoint()!.ToString());
        Assert.Equal("[2001:db8::1]:8443", decoded.PreferredAddress!.Value.GetIPv6EndPoint()!.ToString());
    }

    [Fact]
    public void AbsentParametersTakeTheirRfc9000Section18_2Defaults()
    {
        QuicTransportParameters decoded = DecodeHex(InitialScid, sentByServer: false);
        Assert.Equal(0UL, decoded.MaxIdleTimeoutMilliseconds);
        Assert.Equal(65527UL, decoded.MaxUdpPayloadSize);
        Assert.Equal(3UL, decoded.AckDelayExponent);
        Assert.Equal(25UL, decoded.MaxAckDelayMilliseconds);
        Assert.Equal(2UL, decoded.ActiveConnectionIdLimit);
        Assert.Equal(0UL, decoded.InitialMaxData);
        Assert.False(decoded.DisableActiveMigration);
        Assert.Null(decoded.PreferredAddress);
        Assert.Equal(0UL, decoded.MaxDatagramFrameSize);
    }

    [Fact]
    public void UnknownAndReservedGreaseIdsAreIgnored()
    {
        // RFC 9000 §18.1: 31 * N + 27 (here N = 1 → 58 = 0x3a) and unknown ids are ignored.
        QuicTransportParameters decoded = DecodeHex("3a03aabbcc" + "7fff00" + InitialScid, sentByServer: false);
        Assert.Equal(new ConnectionId([0xa1, 0xa2, 0xa3, 0xa4]), decoded.InitialSourceConnectionId);
        Assert.True(QuicTransportParameters.IsReservedId(58));
        Assert.False(QuicTransportParameters.IsReservedId(59));
        Assert.Throws<ArgumentOutOfRangeException>(() => new QuicTransportParameters { GreaseParameterId = 59 });
    }

    // Each RFC 9000 §18 / §7.4 / RFC 9368 violation, one case each; all must be TRANSPORT_PARAMETER_ERROR.
    [Theory]
    [InlineData("0102406401024064" + InitialScid, false)]                 // §7.4 duplicate max_idle_timeout
    [InlineData("3a00" + "3a00" + InitialScid, false)]                    // §7.4 duplicate (reserved) id
    [InlineData("030244af" + InitialScid, false)]                         // §18.2 max_udp_payload_size 1199
    [InlineData("0a0115" + InitialScid, false)]                           // §18.2 ack_delay_exponent 21
    [InlineData("0b0480004000" + InitialScid, false)]                     // §18.2 max_ack_delay 2^14
    [InlineData("0e0101" + InitialScid, false)]                           // §18.2 active_connection_id_limit 1
    [InlineData("0808d000000000000001" + InitialScid, false)]             // §18.2 initial_max_streams_bidi 2^60+1
    [InlineData("0908d000000000000001" + InitialScid, false)]             // §18.2 initial_max_streams_uni 2^60+1
    [InlineData(OriginalDcid + "020f000102030405060708090a0b0c0d0e" + InitialScid, true)] // §18.2 reset token of 15 bytes
    [InlineData("0015000102030405060708090a0b0c0d0e0f1011121314" + InitialScid, true)]     // §18.2 ODCID of 21 bytes
    [InlineData("0f15000102030405060708090a0b0c0d0e0f1011121314", false)]                  // ISCID of 21 bytes
    [InlineData(OriginalDcid + InitialScid, false)]                      // §18.2 client sent original_destination_connection_id
    [InlineData("0210000102030405060708090a0b0c0d0e0f" + InitialScid, false)] // §18.2 client sent stateless_reset_token
    [InlineData("1001b1" + InitialScid, false)]                           // §18.2 client sent retry_source_connection_id
    [InlineData("0d2d" + "c000020101bb" + "20010db8000000000000000000000001" + "20fb" + "0401020304" + "000102030405060708090a0b0c0d0e0f" + InitialScid, false)] // §18.2 client sent preferred_address
    [InlineData(OriginalDcid + "0d29" + "c000020101bb" + "20010db8000000000000000000000001" + "20fb" + "00" + "000102030405060708090a0b0c0d0e0f" + InitialScid, true)] // §18.2 preferred_address with zero-length CID
    [InlineData(OriginalDcid + "0d2c" + "c000020101bb" + "20010db8000000000000000000000001" + "20fb" + "0401020304" + "000102030405060708090a0b0c0d0e" + InitialScid, true)] // §18.2 preferred_address one byte short
    [InlineData("0c0100" + InitialScid, false)]                           // §18.2 disable_active_migration with a value
    [InlineData("01024064" + InitialScid + "0405", false)]                // §18 length prefix beyond the end
    [InlineData("0103406400" + InitialScid, false)]                       // §18 varint value with a trailing byte
    [InlineData("01" , false)]                                            // §18 truncated after the id
    [InlineData("", false)]                                               // §7.3 initial_source_connection_id missing
    [InlineData(InitialScid, true)]                                       // §7.3 server omitted original_destination_connection_id
    [InlineData("110600000001aaaa" + InitialScid, false)]                 // RFC 9368 §4 length not a multiple of 4
    [InlineData("11080000000000000001" + InitialScid, false)]             // RFC 9368 §4 Chosen Version 0
    [InlineData("11080000000100000000" + InitialScid, false)]             // RFC 9368 §4 Available Version 0
    [InlineData("11080000000100000002" + InitialScid, false)]             // RFC 9368 §4 client's Chosen Version not listed
    [InlineData("6ab20100" + InitialScid, false)]                         // RFC 9287 §3 grease_quic_bit with a value
    public void InvalidParametersAreTransportParameterErrors(string hex, bool sentByServer)
    {
        var error = Assert.Throws<QuicProtocolException>(() => DecodeHex(hex, sentByServer));
        Assert.Equal(TransportErrorCode.TransportParameterError, error.ErrorCode);
    }

    [Fact]
    public void ServerMayOmitItsChosenVersionFromAvailableVersions()
    {
        // RFC 9368 §3: a server's Available Versions need not include the Chosen Version.
        QuicTransportParameters decoded = DecodeHex(OriginalDcid + "11080000000100000002" + InitialScid, sentByServer: true);
        Assert.Equal(1u, decoded.VersionInformation!.ChosenVersion);
        Assert.Equal([2u], decoded.VersionInformation.AvailableVersions);
    }

    [Fact]
    public void RandomBytesOnlyEverRaiseTransportParameterError()
        => Gen.Select(Gen.Byte.Array[0, 200], Gen.Bool).Sample(DecodeExpectingOnlyTypedError, iter: 100_000);

    [Fact]
    public void MutatedValidEncodingsOnlyEverRaiseTransportParameterError()
    {
        QuicTransportParameters full = FullServerSet();
        var encoded = new byte[full.GetEncodedLength()];
        full.Encode(encoded);
        byte[] minimalClient = Convert.FromHexString("0104801d4c00" + "0e0104" + InitialScid);
        Gen.Select(Mutations.Of(encoded, minimalClient), Gen.Bool).Sample(DecodeExpectingOnlyTypedError, iter: 100_000);
    }

    // parse(write(x)) == x for generated valid parameter sets.
    [Fact]
    public void GeneratedParameterSetsRoundTrip()
    {
        var gen = Gen.Select(Gen.ULong[0, QuicVarInt.MaxValue].Array[8], Gen.Byte.Array[0, 20], Gen.Bool, Gen.Int[0, 20]);
        gen.Sample((v, cid, flag, small) =>
        {
            var original = new QuicTransportParameters
            {
                OriginalDestinationConnectionId = flag ? new ConnectionId(cid) : new ConnectionId(cid.AsSpan(0, cid.Length / 2)),
                MaxIdleTimeoutMilliseconds = v[0],
                StatelessResetToken = flag ? new StatelessResetToken(new byte[16]) : null,
                MaxUdpPayloadSize = 1200 + (v[1] % 70_000),
                InitialMaxData = v[2],
                InitialMaxStreamDataBidiLocal = v[3],
                InitialMaxStreamDataBidiRemote = v[4],
                InitialMaxStreamDataUni = v[5],
                InitialMaxStreamsBidi = v[6] >> 2,
                InitialMaxStreamsUni = v[7] >> 2,
                AckDelayExponent = (ulong)small,
                MaxAckDelayMilliseconds = v[0] % (1 << 14),
                DisableActiveMigration = !flag,
                ActiveConnectionIdLimit = 2 + (v[1] % 100),
                InitialSourceConnectionId = new ConnectionId(cid),
                RetrySourceConnectionId = flag ? new ConnectionId(cid) : null,
                MaxDatagramFrameSize = v[2] % 65536,
                GreaseQuicBit = flag,
                VersionInformation = flag ? new VersionInformation(1, [1, (uint)v[3] | 1]) : null,
                GreaseParameterId = flag ? 27 + (31 * (v[4] % 1000)) : null,
            };
            var buffer = new byte[original.GetEncodedLength()];
            Assert.Equal(buffer.Length, original.Encode(buffer));
            AssertSame(original, QuicTransportParameters.Decode(buffer, sentByServer: true));
        }, iter: 100_000);
    }

    private static void DecodeExpectingOnlyTypedError(byte[] bytes, bool sentByServer)
    {
        try
        {
            QuicTransportParameters.Decode(bytes, sentByServer);
        }
        catch (QuicProtocolException error)
        {
            Assert.Equal(TransportErrorCode.TransportParameterError, error.ErrorCode);
        }
    }

    private static void AssertSame(QuicTransportParameters expected, QuicTransportParameters actual)
    {
        Assert.Equal(expected.OriginalDestinationConnectionId, actual.OriginalDestinationConnectionId);
        Assert.Equal(expected.MaxIdleTimeoutMilliseconds, actual.MaxIdleTimeoutMilliseconds);
        Assert.Equal(expected.StatelessResetToken, actual.StatelessResetToken);
        Assert.Equal(expected.MaxUdpPayloadSize, actual.MaxUdpPayloadSize);
        Assert.Equal(expected.InitialMaxData, actual.InitialMaxData);
        Assert.Equal(expected.InitialMaxStreamDataBidiLocal, actual.InitialMaxStreamDataBidiLocal);
        Assert.Equal(expected.InitialMaxStreamDataBidiRemote, actual.InitialMaxStreamDataBidiRemote);
        Assert.Equal(expected.InitialMaxStreamDataUni, actual.InitialMaxStreamDataUni);
        Assert.Equal(expected.InitialMaxStreamsBidi, actual.InitialMaxStreamsBidi);
        Assert.Equal(expected.InitialMaxStreamsUni, actual.InitialMaxStreamsUni);
        Assert.Equal(expected.AckDelayExponent, actual.AckDelayExponent);
        Assert.Equal(expected.MaxAckDelayMilliseconds, actual.MaxAckDelayMilliseconds);
        Assert.Equal(expected.DisableActiveMigration, actual.DisableActiveMigration);
        Assert.Equal(expected.PreferredAddress, actual.PreferredAddress);
        Assert.Equal(expected.ActiveConnectionIdLimit, actual.ActiveConnectionIdLimit);
        Assert.Equal(expected.InitialSourceConnectionId, actual.InitialSourceConnectionId);
        Assert.Equal(expected.RetrySourceConnectionId, actual.RetrySourceConnectionId);
        Assert.Equal(expected.MaxDatagramFrameSize, actual.MaxDatagramFrameSize);
        Assert.Equal(expected.GreaseQuicBit, actual.GreaseQuicBit);
        Assert.Equal(expected.VersionInformation?.ChosenVersion, actual.VersionInformation?.ChosenVersion);
        Assert.Equal(expected.VersionInformation?.AvailableVersions.ToArray(), actual.VersionInformation?.AvailableVersions.ToArray());
    }
}
