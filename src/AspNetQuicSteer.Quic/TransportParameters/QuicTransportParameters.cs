using System.Buffers.Binary;
using System.Collections.Immutable;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.TransportParameters;

/// <summary>
/// QUIC transport parameters (RFC 9000 §18), as sent in the TLS quic_transport_parameters extension,
/// plus max_datagram_frame_size (RFC 9221), grease_quic_bit (RFC 9287) and version_information
/// (RFC 9368). Every property starts at its RFC default; <see cref="Encode"/> writes only the
/// parameters that differ from it. Named QuicTransportParameters because a type named like its
/// namespace cannot be referred to by its simple name from sibling namespaces.
/// </summary>
internal sealed class QuicTransportParameters
{
    /// <summary>RFC 9000 §18.2 default max_udp_payload_size.</summary>
    public const ulong DefaultMaxUdpPayloadSize = 65527;

    /// <summary>RFC 9000 §18.2: max_udp_payload_size values below 1200 are invalid.</summary>
    public const ulong MinMaxUdpPayloadSize = 1200;

    public const ulong DefaultAckDelayExponent = 3;

    /// <summary>RFC 9000 §18.2: ack_delay_exponent values above 20 are invalid.</summary>
    public const ulong MaxAckDelayExponent = 20;

    public const ulong DefaultMaxAckDelayMilliseconds = 25;

    /// <summary>RFC 9000 §18.2: max_ack_delay values of 2^14 or greater are invalid.</summary>
    public const ulong MaxAckDelayMillisecondsLimit = 1UL << 14;

    public const ulong DefaultActiveConnectionIdLimit = 2;

    private ulong? _greaseParameterId;

    /// <summary>Server only (RFC 9000 §7.3): the DCID of the client's first Initial.</summary>
    public ConnectionId? OriginalDestinationConnectionId { get; set; }

    /// <summary>RFC 9000 §10.1: 0 (the default) disables the idle timeout.</summary>
    public ulong MaxIdleTimeoutMilliseconds { get; set; }

    /// <summary>Server only (RFC 9000 §10.3).</summary>
    public StatelessResetToken? StatelessResetToken { get; set; }

    public ulong MaxUdpPayloadSize { get; set; } = DefaultMaxUdpPayloadSize;

    public ulong InitialMaxData { get; set; }

    public ulong InitialMaxStreamDataBidiLocal { get; set; }

    public ulong InitialMaxStreamDataBidiRemote { get; set; }

    public ulong InitialMaxStreamDataUni { get; set; }

    public ulong InitialMaxStreamsBidi { get; set; }

    public ulong InitialMaxStreamsUni { get; set; }

    public ulong AckDelayExponent { get; set; } = DefaultAckDelayExponent;

    public ulong MaxAckDelayMilliseconds { get; set; } = DefaultMaxAckDelayMilliseconds;

    public bool DisableActiveMigration { get; set; }

    /// <summary>Server only (RFC 9000 §9.6).</summary>
    public PreferredAddress? PreferredAddress { get; set; }

    public ulong ActiveConnectionIdLimit { get; set; } = DefaultActiveConnectionIdLimit;

    /// <summary>RFC 9000 §7.3: both endpoints must send it.</summary>
    public ConnectionId? InitialSourceConnectionId { get; set; }

    /// <summary>Server only, after a Retry (RFC 9000 §7.3).</summary>
    public ConnectionId? RetrySourceConnectionId { get; set; }

    /// <summary>RFC 9221 §3: 0 (the default) means DATAGRAM frames are not supported.</summary>
    public ulong MaxDatagramFrameSize { get; set; }

    /// <summary>RFC 9287 §3: the sender accepts packets with the fixed bit cleared.</summary>
    public bool GreaseQuicBit { get; set; }

    /// <summary>RFC 9368 §3.</summary>
    public VersionInformation? VersionInformation { get; set; }

    /// <summary>
    /// When set, <see cref="Encode"/> adds an empty parameter with this reserved id (RFC 9000 §18.1:
    /// ids of the form 31 * N + 27) to exercise the peer's handling of unknown parameters.
    /// </summary>
    public ulong? GreaseParameterId
    {
        get => _greaseParameterId;
        set
        {
            if (value is ulong id && !IsReservedId(id))
            {
                throw new ArgumentOutOfRangeException(nameof(value), id, "Reserved transport parameter ids are 31 * N + 27 (RFC 9000 §18.1).");
            }

            _greaseParameterId = value;
        }
    }

    /// <summary>RFC 9000 §18.1: ids 31 * N + 27 are reserved for greasing and carry no meaning.</summary>
    /// <summary>
    /// Extension parameters (e.g. draft-banks-quic-cibir's cibir_encoding), already encoded as RFC 9000 §18
    /// (id, length, value) triples, appended when encoding. Decoding keeps unknown ids out of the typed properties;
    /// a connection's validator reads them from the raw bytes.
    /// </summary>
    public ReadOnlyMemory<byte> Extensions { get; set; }

    public static bool IsReservedId(ulong id) => id >= 27 && id <= QuicVarInt.MaxValue && (id - 27) % 31 == 0;

    public int GetEncodedLength()
    {
        var sink = ParameterSink.Measuring();
        Emit(ref sink);
        return sink.Length;
    }

    /// <summary>Writes the parameters (RFC 9000 §18: id, length, value each) and returns the byte count.</summary>
    public int Encode(Span<byte> destination)
    {
        var sink = ParameterSink.Writing(destination);
        Emit(ref sink);
        return sink.Length;
    }

    /// <summary>
    /// Decodes the peer's transport parameters. <paramref name="sentByServer"/> says who sent them
    /// (server-only parameters from a client are an error). Any malformed or invalid content throws
    /// <see cref="QuicProtocolException"/> with TRANSPORT_PARAMETER_ERROR.
    /// </summary>
    public static QuicTransportParameters Decode(ReadOnlySpan<byte> encoded, bool sentByServer)
    {
        var reader = new QuicReader(encoded, TransportErrorCode.TransportParameterError);
        var parameters = new QuicTransportParameters();
        uint seenKnown = 0;
        HashSet<ulong>? seenUnknown = null;

        while (!reader.IsEmpty)
        {
            // RFC 9000 §18: Transport Parameter ID (i), Length (i), Value (..).
            ulong id = reader.ReadVarInt();
            ReadOnlySpan<byte> value = reader.ReadVarIntPrefixedBytes();

            int bit = GetKnownBit(id);
            if (bit < 0)
            {
                // RFC 9000 §18.1/§7.4.2: unknown ids, including reserved 31 * N + 27, are ignored, but
                // RFC 9000 §7.4: a repeated id is still an error.
                seenUnknown ??= [];
                if (!seenUnknown.Add(id))
                {
                    throw Error($"Transport parameter 0x{id:x} appears twice.");
                }

                continue;
            }

            // RFC 9000 §7.4: an endpoint SHOULD treat duplicate transport parameters as TRANSPORT_PARAMETER_ERROR.
            if ((seenKnown & (1u << bit)) != 0)
            {
                throw Error($"Transport parameter 0x{id:x} appears twice.");
            }

            seenKnown |= 1u << bit;
            parameters.DecodeKnown((TransportParameterId)id, value, sentByServer);
        }

        // RFC 9000 §7.3: initial_source_connection_id from either endpoint and
        // original_destination_connection_id from the server are mandatory.
        if (parameters.InitialSourceConnectionId is null)
        {
            throw Error("initial_source_connection_id is missing.");
        }

        if (sentByServer && parameters.OriginalDestinationConnectionId is null)
        {
            throw Error("original_destination_connection_id is missing from the server's parameters.");
        }

        return parameters;
    }

    private static int GetKnownBit(ulong id) => id switch
    {
        <= (ulong)TransportParameterId.VersionInformation => (int)id,
        (ulong)TransportParameterId.MaxDatagramFrameSize => 18,
        (ulong)TransportParameterId.GreaseQuicBit => 19,
        _ => -1,
    };

    private static QuicProtocolException Error(string message) => new(TransportErrorCode.TransportParameterError, message);

    private void DecodeKnown(TransportParameterId id, ReadOnlySpan<byte> value, bool sentByServer)
    {
        switch (id)
        {
            case TransportParameterId.OriginalDestinationConnectionId:
                RequireSentByServer(id, sentByServer);
                OriginalDestinationConnectionId = ReadConnectionId(value, id);
                break;
            case TransportParameterId.MaxIdleTimeout:
                MaxIdleTimeoutMilliseconds = ReadVarIntValue(value, id);
                break;
            case TransportParameterId.StatelessResetToken:
                RequireSentByServer(id, sentByServer);

                // RFC 9000 §18.2: a 16-byte value.
                if (value.Length != TransportParameters.StatelessResetToken.Length)
                {
                    throw Error("stateless_reset_token is not 16 bytes.");
                }

                StatelessResetToken = new StatelessResetToken(value);
                break;
            case TransportParameterId.MaxUdpPayloadSize:
                MaxUdpPayloadSize = ReadVarIntValue(value, id);

                // RFC 9000 §18.2: values below 1200 are invalid.
                if (MaxUdpPayloadSize < MinMaxUdpPayloadSize)
                {
                    throw Error("max_udp_payload_size below 1200.");
                }

                break;
            case TransportParameterId.InitialMaxData:
                InitialMaxData = ReadVarIntValue(value, id);
                break;
            case TransportParameterId.InitialMaxStreamDataBidiLocal:
                InitialMaxStreamDataBidiLocal = ReadVarIntValue(value, id);
                break;
            case TransportParameterId.InitialMaxStreamDataBidiRemote:
                InitialMaxStreamDataBidiRemote = ReadVarIntValue(value, id);
                break;
            case TransportParameterId.InitialMaxStreamDataUni:
                InitialMaxStreamDataUni = ReadVarIntValue(value, id);
                break;
            case TransportParameterId.InitialMaxStreamsBidi:
                InitialMaxStreamsBidi = ReadStreamCount(value, id);
                break;
            case TransportParameterId.InitialMaxStreamsUni:
                InitialMaxStreamsUni = ReadStreamCount(value, id);
                break;
            case TransportParameterId.AckDelayExponent:
                AckDelayExponent = ReadVarIntValue(value, id);

                // RFC 9000 §18.2: values above 20 are invalid.
                if (AckDelayExponent > MaxAckDelayExponent)
                {
                    throw Error("ack_delay_exponent above 20.");
                }

                break;
            case TransportParameterId.MaxAckDelay:
                MaxAckDelayMilliseconds = ReadVarIntValue(value, id);

                // RFC 9000 §18.2: values of 2^14 or greater are invalid.
                if (MaxAckDelayMilliseconds >= MaxAckDelayMillisecondsLimit)
                {
                    throw Error("max_ack_delay of 2^14 or more.");
                }

                break;
            case TransportParameterId.DisableActiveMigration:
                DisableActiveMigration = ReadEmptyFlag(value, id);
                break;
            case TransportParameterId.PreferredAddress:
                RequireSentByServer(id, sentByServer);
                PreferredAddress = ReadPreferredAddress(value);
                break;
            case TransportParameterId.ActiveConnectionIdLimit:
                ActiveConnectionIdLimit = ReadVarIntValue(value, id);

                // RFC 9000 §18.2: a value below 2 is a TRANSPORT_PARAMETER_ERROR.
                if (ActiveConnectionIdLimit < 2)
                {
                    throw Error("active_connection_id_limit below 2.");
                }

                break;
            case TransportParameterId.InitialSourceConnectionId:
                InitialSourceConnectionId = ReadConnectionId(value, id);
                break;
            case TransportParameterId.RetrySourceConnectionId:
                RequireSentByServer(id, sentByServer);
                RetrySourceConnectionId = ReadConnectionId(value, id);
                break;
            case TransportParameterId.VersionInformation:
                VersionInformation = ReadVersionInformation(value, sentByServer);
                break;
            case TransportParameterId.MaxDatagramFrameSize:
                MaxDatagramFrameSize = ReadVarIntValue(value, id);
                break;
            case TransportParameterId.GreaseQuicBit:
                GreaseQuicBit = ReadEmptyFlag(value, id);
                break;
            default:
                throw new InvalidOperationException($"Known-id table and decoder disagree on 0x{(ulong)id:x}.");
        }
    }

    private static void RequireSentByServer(TransportParameterId id, bool sentByServer)
    {
        // RFC 9000 §18.2: a client MUST NOT send original_destination_connection_id, stateless_reset_token,
        // preferred_address or retry_source_connection_id; a server treats receipt as TRANSPORT_PARAMETER_ERROR.
        if (!sentByServer)
        {
            throw Error($"Server-only transport parameter 0x{(ulong)id:x} sent by a client.");
        }
    }

    private static ulong ReadVarIntValue(ReadOnlySpan<byte> value, TransportParameterId id)
    {
        // RFC 9000 §18: these values are a single varint filling the parameter exactly.
        if (!QuicVarInt.TryRead(value, out ulong result, out int length) || length != value.Length)
        {
            throw Error($"Transport parameter 0x{(ulong)id:x} is not a single varint.");
        }

        return result;
    }

    private static ulong ReadStreamCount(ReadOnlySpan<byte> value, TransportParameterId id)
    {
        ulong count = ReadVarIntValue(value, id);

        // RFC 9000 §18.2 / §4.6: initial_max_streams_* above 2^60 is a TRANSPORT_PARAMETER_ERROR.
        if (count > StreamId.MaxStreamCount)
        {
            throw Error($"Transport parameter 0x{(ulong)id:x} above 2^60.");
        }

        return count;
    }

    private static bool ReadEmptyFlag(ReadOnlySpan<byte> value, TransportParameterId id)
    {
        // RFC 9000 §18.2 (disable_active_migration) and RFC 9287 §3 (grease_quic_bit): zero-length values.
        if (!value.IsEmpty)
        {
            throw Error($"Transport parameter 0x{(ulong)id:x} must be empty.");
        }

        return true;
    }

    private static ConnectionId ReadConnectionId(ReadOnlySpan<byte> value, TransportParameterId id)
    {
        // RFC 9000 §17.2: version 1 connection IDs are at most 20 bytes.
        if (!ConnectionId.TryCreate(value, out ConnectionId connectionId))
        {
            throw Error($"Transport parameter 0x{(ulong)id:x} holds a connection ID longer than 20 bytes.");
        }

        return connectionId;
    }

    private static PreferredAddress ReadPreferredAddress(ReadOnlySpan<byte> value)
    {
        var reader = new QuicReader(value, TransportErrorCode.TransportParameterError);
        uint ipv4 = reader.ReadUInt32();
        ushort ipv4Port = reader.ReadUInt16();
        UInt128 ipv6 = BinaryPrimitives.ReadUInt128BigEndian(reader.ReadBytes(16));
        ushort ipv6Port = reader.ReadUInt16();
        int cidLength = reader.ReadByte();

        // RFC 9000 §18.2: a server MUST NOT put a zero-length connection ID here; version 1 IDs are at most 20 bytes.
        if (cidLength is < 1 or > ConnectionId.MaxLength)
        {
            throw Error("preferred_address connection ID length outside 1..20.");
        }

        var connectionId = new ConnectionId(reader.ReadBytes(cidLength));
        var token = new StatelessResetToken(reader.ReadBytes(TransportParameters.StatelessResetToken.Length));

        // RFC 9000 §18.2: the value has exactly these fields.
        if (!reader.IsEmpty)
        {
            throw Error("preferred_address has trailing bytes.");
        }

        return new PreferredAddress(ipv4, ipv4Port, ipv6, ipv6Port, connectionId, token);
    }

    private static VersionInformation ReadVersionInformation(ReadOnlySpan<byte> value, bool sentByServer)
    {
        // RFC 9368 §4: too short or not a multiple of four is a parsing failure (TRANSPORT_PARAMETER_ERROR in v1).
        if (value.Length < 4 || value.Length % 4 != 0)
        {
            throw Error("version_information length is not a positive multiple of 4.");
        }

        uint chosen = BinaryPrimitives.ReadUInt32BigEndian(value);
        var available = ImmutableArray.CreateBuilder<uint>((value.Length / 4) - 1);
        bool chosenListed = false;
        for (int i = 4; i < value.Length; i += 4)
        {
            uint version = BinaryPrimitives.ReadUInt32BigEndian(value[i..]);
            if (version == 0)
            {
                throw Error("version_information lists version 0.");
            }

            chosenListed |= version == chosen;
            available.Add(version);
        }

        // RFC 9368 §4: a zero Chosen Version is a parsing failure, and a server (i.e. parameters sent by a
        // client) also requires the Chosen Version to be among the Available Versions.
        if (chosen == 0)
        {
            throw Error("version_information Chosen Version is 0.");
        }

        if (!sentByServer && !chosenListed)
        {
            throw Error("Client version_information does not list its Chosen Version.");
        }

        return new VersionInformation(chosen, available.MoveToImmutable());
    }

    private void Emit(ref ParameterSink sink)
    {
        if (_greaseParameterId is ulong greaseId)
        {
            sink.Bytes(greaseId, []);
        }

        if (OriginalDestinationConnectionId is ConnectionId odcid)
        {
            sink.Bytes((ulong)TransportParameterId.OriginalDestinationConnectionId, odcid.Span);
        }

        sink.VarIntUnlessDefault(TransportParameterId.MaxIdleTimeout, MaxIdleTimeoutMilliseconds, 0);
        if (StatelessResetToken is StatelessResetToken resetToken)
        {
            sink.Bytes((ulong)TransportParameterId.StatelessResetToken, resetToken.Span);
        }

        sink.VarIntUnlessDefault(TransportParameterId.MaxUdpPayloadSize, MaxUdpPayloadSize, DefaultMaxUdpPayloadSize);
        sink.VarIntUnlessDefault(TransportParameterId.InitialMaxData, InitialMaxData, 0);
        sink.VarIntUnlessDefault(TransportParameterId.InitialMaxStreamDataBidiLocal, InitialMaxStreamDataBidiLocal, 0);
        sink.VarIntUnlessDefault(TransportParameterId.InitialMaxStreamDataBidiRemote, InitialMaxStreamDataBidiRemote, 0);
        sink.VarIntUnlessDefault(TransportParameterId.InitialMaxStreamDataUni, InitialMaxStreamDataUni, 0);
        sink.VarIntUnlessDefault(TransportParameterId.InitialMaxStreamsBidi, InitialMaxStreamsBidi, 0);
        sink.VarIntUnlessDefault(TransportParameterId.InitialMaxStreamsUni, InitialMaxStreamsUni, 0);
        sink.VarIntUnlessDefault(TransportParameterId.AckDelayExponent, AckDelayExponent, DefaultAckDelayExponent);
        sink.VarIntUnlessDefault(TransportParameterId.MaxAckDelay, MaxAckDelayMilliseconds, DefaultMaxAckDelayMilliseconds);
        if (DisableActiveMigration)
        {
            sink.Bytes((ulong)TransportParameterId.DisableActiveMigration, []);
        }

        if (PreferredAddress is PreferredAddress preferred)
        {
            sink.PreferredAddress(preferred);
        }

        sink.VarIntUnlessDefault(TransportParameterId.ActiveConnectionIdLimit, ActiveConnectionIdLimit, DefaultActiveConnectionIdLimit);
        if (InitialSourceConnectionId is ConnectionId iscid)
        {
            sink.Bytes((ulong)TransportParameterId.InitialSourceConnectionId, iscid.Span);
        }

        if (RetrySourceConnectionId is ConnectionId rscid)
        {
            sink.Bytes((ulong)TransportParameterId.RetrySourceConnectionId, rscid.Span);
        }

        if (VersionInformation is VersionInformation versions)
        {
            sink.VersionInformation(versions);
        }

        sink.VarIntUnlessDefault(TransportParameterId.MaxDatagramFrameSize, MaxDatagramFrameSize, 0);
        if (GreaseQuicBit)
        {
            sink.Bytes((ulong)TransportParameterId.GreaseQuicBit, []);
        }

        // RFC 9000 §18: further parameters are more (id, length, value) triples; extensions arrive pre-encoded.
        sink.Raw(Extensions.Span);
    }

    /// <summary>Either measures or writes, so that <see cref="GetEncodedLength"/> and <see cref="Encode"/> cannot drift apart.</summary>
    private ref struct ParameterSink
    {
        private readonly bool _measureOnly;
        private QuicWriter _writer;

        private ParameterSink(Span<byte> destination, bool measureOnly)
        {
            _writer = new QuicWriter(destination);
            _measureOnly = measureOnly;
            Length = 0;
        }

        public int Length { get; private set; }

        public static ParameterSink Measuring() => new(default, measureOnly: true);

        public static ParameterSink Writing(Span<byte> destination) => new(destination, measureOnly: false);

        public void VarIntUnlessDefault(TransportParameterId id, ulong value, ulong defaultValue)
        {
            if (value == defaultValue)
            {
                return;
            }

            int valueLength = QuicVarInt.GetLength(value);
            Header((ulong)id, valueLength);
            Add(valueLength);
            if (!_measureOnly)
            {
                _writer.WriteVarInt(value);
            }
        }

        public void Bytes(ulong id, scoped ReadOnlySpan<byte> value)
        {
            Header(id, value.Length);
            Add(value.Length);
            if (!_measureOnly)
            {
                _writer.WriteBytes(value);
            }
        }

        public void Raw(scoped ReadOnlySpan<byte> encoded)
        {
            Add(encoded.Length);
            if (!_measureOnly)
            {
                _writer.WriteBytes(encoded);
            }
        }

        public void PreferredAddress(in PreferredAddress address)
        {
            Header((ulong)TransportParameterId.PreferredAddress, address.EncodedLength);
            Add(address.EncodedLength);
            if (_measureOnly)
            {
                return;
            }

            // RFC 9000 §18.2 Preferred Address layout.
            _writer.WriteUInt32(address.IPv4Address);
            _writer.WriteUInt16(address.IPv4Port);
            BinaryPrimitives.WriteUInt128BigEndian(_writer.Reserve(16), address.IPv6Address);
            _writer.WriteUInt16(address.IPv6Port);
            _writer.WriteByte((byte)address.ConnectionId.Length);
            _writer.WriteBytes(address.ConnectionId.Span);
            _writer.WriteBytes(address.StatelessResetToken.Span);
        }

        public void VersionInformation(VersionInformation versions)
        {
            Header((ulong)TransportParameterId.VersionInformation, versions.EncodedLength);
            Add(versions.EncodedLength);
            if (_measureOnly)
            {
                return;
            }

            _writer.WriteUInt32(versions.ChosenVersion);
            foreach (uint version in versions.AvailableVersions)
            {
                _writer.WriteUInt32(version);
            }
        }

        private void Header(ulong id, int valueLength)
        {
            Add(QuicVarInt.GetLength(id) + QuicVarInt.GetLength((ulong)valueLength));
            if (!_measureOnly)
            {
                _writer.WriteVarInt(id);
                _writer.WriteVarInt((ulong)valueLength);
            }
        }

        private void Add(int count) => Length += count;
    }
}
