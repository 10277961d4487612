using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Steering.Routing;

/// <summary>
/// The <c>cibir_encoding</c> transport parameter of draft-banks-quic-cibir-01 ("QUIC Connection ID Based Initial
/// Routing"): where, in the client's <em>source</em> connection ID, the well-known ID that routes the client's
/// long-header packets sits. §2.1: the value is two variable-length integers, <c>Length (i)</c> then
/// <c>Offset (i)</c>; §4.1 registers parameter id 0x1000 (the -00 draft used 0x30, then 0x80; MsQuic and
/// Wireshark use 0x1000).
/// <para>Both endpoints validate (draft §2.1): the server checks the client sent the parameter with the locally
/// configured length and offset, else CONNECTION_REFUSED (<see cref="ValidateClientParameters"/>); the client checks
/// the server sent the same, else TRANSPORT_PARAMETER_ERROR (<see cref="ValidateServerParameters"/>).</para>
/// </summary>
internal readonly record struct CibirEncoding
{
    /// <summary>draft-banks-quic-cibir-01 §2.1 / §4.1: transport parameter id of <c>cibir_encoding</c>.</summary>
    public const ulong TransportParameterId = 0x1000;

    /// <summary>
    /// RFC 8999 §5.1: a connection ID is at most 255 bytes in any version, so length + offset of a well-formed
    /// value is at most 255 (the bound MsQuic also applies). A QUIC v1 ID must fit 20 bytes (see <see cref="CibirRule"/>).
    /// </summary>
    public const int MaxConnectionIdLength = 255;

    public CibirEncoding(int length, int offset)
    {
        if (!IsValid(length, offset))
        {
            throw new ArgumentOutOfRangeException(
                nameof(length), $"A CIBIR ID needs length >= 1, offset >= 0 and length + offset <= {MaxConnectionIdLength}; got length {length}, offset {offset}.");
        }

        Length = length;
        Offset = offset;
    }

    /// <summary>Bytes of the well-known ID.</summary>
    public int Length { get; }

    /// <summary>Where the well-known ID starts in the client's source connection ID.</summary>
    public int Offset { get; }

    /// <summary>Bytes of the parameter's value: two varints (draft §2.1).</summary>
    public int ValueLength => QuicVarInt.GetLength((ulong)Length) + QuicVarInt.GetLength((ulong)Offset);

    /// <summary>Bytes of the whole parameter as it appears in the transport parameters (RFC 9000 §18: id, length, value).</summary>
    public int ParameterLength => QuicVarInt.GetLength(TransportParameterId) + QuicVarInt.GetLength((ulong)ValueLength) + ValueLength;

    /// <summary>Writes the value (Length, then Offset); false when <paramref name="destination"/> is too short.</summary>
    public bool TryWriteValue(Span<byte> destination, out int bytesWritten)
    {
        bytesWritten = 0;
        if (destination.Length < ValueLength)
        {
            return false;
        }

        QuicVarInt.TryWrite(destination, (ulong)Length, out int first);
        QuicVarInt.TryWrite(destination[first..], (ulong)Offset, out int second);
        bytesWritten = first + second;
        return true;
    }

    /// <summary>
    /// Writes the whole parameter (id 0x1000, value length, value), ready to be appended to the other transport
    /// parameters (their order does not matter, RFC 9000 §18); false when <paramref name="destination"/> is too short.
    /// </summary>
    public bool TryWriteParameter(Span<byte> destination, out int bytesWritten)
    {
        bytesWritten = 0;
        if (destination.Length < ParameterLength)
        {
            return false;
        }

        QuicVarInt.TryWrite(destination, TransportParameterId, out int idLength);
        QuicVarInt.TryWrite(destination[idLength..], (ulong)ValueLength, out int lengthLength);
        TryWriteValue(destination[(idLength + lengthLength)..], out int valueLength);
        bytesWritten = idLength + lengthLength + valueLength;
        return true;
    }

    /// <summary>
    /// Decodes a parameter value: exactly two varints, length &gt;= 1 and length + offset &lt;= 255. Anything else
    /// (truncated, trailing bytes, out of range) is an invalid value: RFC 9000 §7.4, TRANSPORT_PARAMETER_ERROR.
    /// </summary>
    public static bool TryDecodeValue(ReadOnlySpan<byte> value, out CibirEncoding encoding)
    {
        encoding = default;
        if (!QuicVarInt.TryRead(value, out ulong length, out int first)
            || !QuicVarInt.TryRead(value[first..], out ulong offset, out int second)
            || first + second != value.Length
            || length > MaxConnectionIdLength
            || offset > MaxConnectionIdLength
            || !IsValid((int)length, (int)offset))
        {
            return false;
        }

        encoding = new CibirEncoding((int)length, (int)offset);
        return true;
    }

    /// <summary>
    /// Finds <c>cibir_encoding</c> in an encoded transport parameters block (RFC 9000 §18: a sequence of id, length,
    /// value). <see cref="CibirLookup.Malformed"/> when the block cannot be walked, the parameter appears twice
    /// (RFC 9000 §7.4) or its value is invalid.
    /// </summary>
    public static CibirLookup Find(ReadOnlySpan<byte> transportParameters, out CibirEncoding encoding)
    {
        encoding = default;
        CibirEncoding result = default;
        bool found = false;
        while (!transportParameters.IsEmpty)
        {
            if (!QuicVarInt.TryRead(transportParameters, out ulong id, out int idLength)
                || !QuicVarInt.TryRead(transportParameters[idLength..], out ulong valueLength, out int lengthLength))
            {
                return CibirLookup.Malformed;
            }

            int valueOffset = idLength + lengthLength;
            if (valueLength > (ulong)(transportParameters.Length - valueOffset))
            {
                return CibirLookup.Malformed;
            }

            if (id == TransportParameterId)
            {
                if (found || !TryDecodeValue(transportParameters.Slice(valueOffset, (int)valueLength), out result))
                {
                    return CibirLookup.Malformed;
                }

                found = true;
            }

            transportParameters = transportParameters[(valueOffset + (int)valueLength)..];
        }

        encoding = result;
        return found ? CibirLookup.Present : CibirLookup.Absent;
    }

    /// <summary>
    /// Server side (draft §2.1): the client's transport parameters must carry <c>cibir_encoding</c> equal to the
    /// <paramref name="configured"/> length and offset; missing or different is CONNECTION_REFUSED. An undecodable
    /// value is TRANSPORT_PARAMETER_ERROR (RFC 9000 §7.4), as for any invalid parameter.
    /// </summary>
    public static CibirValidation ValidateClientParameters(ReadOnlySpan<byte> clientTransportParameters, CibirEncoding configured)
    {
        CibirLookup lookup = Find(clientTransportParameters, out CibirEncoding received);
        return Validate(lookup, received, configured, TransportErrorCode.ConnectionRefused);
    }

    /// <summary>
    /// Client side (draft §2.1): the server's transport parameters must carry <c>cibir_encoding</c> equal to the
    /// length and offset the client used; missing, different or undecodable is TRANSPORT_PARAMETER_ERROR.
    /// </summary>
    public static CibirValidation ValidateServerParameters(ReadOnlySpan<byte> serverTransportParameters, CibirEncoding expected)
    {
        CibirLookup lookup = Find(serverTransportParameters, out CibirEncoding received);
        return Validate(lookup, received, expected, TransportErrorCode.TransportParameterError);
    }

    public override string ToString() => $"cibir_encoding(length {Length}, offset {Offset})";

    private static bool IsValid(int length, int offset) => length >= 1 && offset >= 0 && length + offset <= MaxConnectionIdLength;

    private static CibirValidation Validate(CibirLookup lookup, CibirEncoding received, CibirEncoding expected, TransportErrorCode mismatchError) => lookup switch
    {
        CibirLookup.Malformed => new CibirValidation(CibirOutcome.Malformed, null, TransportErrorCode.TransportParameterError),
        CibirLookup.Absent => new CibirValidation(CibirOutcome.Missing, null, mismatchError),
        _ when received != expected => new CibirValidation(CibirOutcome.Mismatch, received, mismatchError),
        _ => new CibirValidation(CibirOutcome.Valid, received, null),
    };
}

/// <summary>Result of looking for <c>cibir_encoding</c> in a transport parameters block.</summary>
internal enum CibirLookup
{
    Absent,
    Present,
    Malformed,
}

/// <summary>How a peer's <c>cibir_encoding</c> compared with what this endpoint expects.</summary>
internal enum CibirOutcome
{
    Valid,
    Missing,
    Mismatch,
    Malformed,
}

/// <summary>
/// The verdict of a <c>cibir_encoding</c> check: the outcome, what the peer sent (when it decoded), and the
/// transport error to close the connection with (null when valid).
/// </summary>
internal readonly record struct CibirValidation(CibirOutcome Outcome, CibirEncoding? Received, TransportErrorCode? Error)
{
    public bool IsValid => Outcome == CibirOutcome.Valid;

    /// <summary>A log line for a failed check (allocates; not for the per-packet path).</summary>
    public string Describe(CibirEncoding expected) => Outcome switch
    {
        CibirOutcome.Valid => $"{expected} matches.",
        CibirOutcome.Missing => $"The peer did not send cibir_encoding; expected {expected}.",
        CibirOutcome.Mismatch => $"The peer sent {Received}; expected {expected}.",
        _ => "The peer's transport parameters carry a malformed or repeated cibir_encoding.",
    };
}
