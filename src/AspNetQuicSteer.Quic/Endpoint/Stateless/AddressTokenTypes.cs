using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Endpoint.Stateless;

/// <summary>
/// Which frame or packet a token was issued in. Sealed inside the token, so a NEW_TOKEN token cannot pass for a
/// Retry token or the other way round (RFC 9000 §8.1.4: a server must be able to tell them apart).
/// </summary>
internal enum AddressTokenKind : byte
{
    /// <summary>Not known: no token, or it could not be opened.</summary>
    None = 0,

    /// <summary>RFC 9000 §8.1.2: in a Retry packet; short-lived, bound to IP and port, carries ODCID and Retry SCID.</summary>
    Retry = 1,

    /// <summary>RFC 9000 §8.1.3: in a NEW_TOKEN frame for a future connection; long-lived, bound to the IP only.</summary>
    NewToken = 2,
}

/// <summary>The token kinds a caller is prepared to accept; any other opened token is <see cref="AddressTokenValidationResult.WrongType"/>.</summary>
[Flags]
internal enum AcceptedAddressTokenKinds
{
    Retry = 1,
    NewToken = 2,
    Any = Retry | NewToken,
}

/// <summary>Outcome of opening a client's token. Only <see cref="Valid"/> validates the client's address.</summary>
internal enum AddressTokenValidationResult
{
    Valid,

    /// <summary>Authentic, but older than its kind's lifetime (or issued implausibly far in the future).</summary>
    Expired,

    /// <summary>Authentic, but issued to another IP (or, for a Retry token, another port).</summary>
    WrongAddress,

    /// <summary>An authentic Retry token, but the Initial's DCID is not the Retry's Source Connection ID (RFC 9000 §7.2).</summary>
    WrongConnectionId,

    /// <summary>Authentic, but of a kind the caller did not accept (RFC 9000 §8.1.4).</summary>
    WrongType,

    /// <summary>Too short, too long, tampered with, or not ours: authentication failed or the contents do not parse.</summary>
    Malformed,

    /// <summary>The key id is neither the current nor the previous key's (e.g. a secret rotated out, or another server's token).</summary>
    UnknownKey,
}

/// <summary>
/// The result of <see cref="AddressValidationTokenProtector.Validate"/>. <see cref="Kind"/> is set whenever the token
/// was authentic (even if expired or for another address), so a server can tell a failed Retry token, which it
/// should answer with INVALID_TOKEN (RFC 9000 §8.1.2), from an unusable NEW_TOKEN token, which it treats as no token
/// (§8.1.3). The connection IDs are set only for a <see cref="AddressTokenValidationResult.Valid"/> Retry token.
/// </summary>
internal readonly struct AddressTokenValidation
{
    public AddressTokenValidation(AddressTokenValidationResult result, AddressTokenKind kind, ConnectionId originalDestinationConnectionId, ConnectionId retrySourceConnectionId)
    {
        Result = result;
        Kind = kind;
        OriginalDestinationConnectionId = originalDestinationConnectionId;
        RetrySourceConnectionId = retrySourceConnectionId;
    }

    public AddressTokenValidationResult Result { get; }

    public AddressTokenKind Kind { get; }

    public bool IsValid => Result == AddressTokenValidationResult.Valid;

    /// <summary>Valid Retry tokens: the DCID of the client's first Initial, for original_destination_connection_id (RFC 9000 §7.3).</summary>
    public ConnectionId OriginalDestinationConnectionId { get; }

    /// <summary>Valid Retry tokens: the Retry's SCID, for retry_source_connection_id (RFC 9000 §7.3).</summary>
    public ConnectionId RetrySourceConnectionId { get; }

    internal static AddressTokenValidation Failed(AddressTokenValidationResult result, AddressTokenKind kind = AddressTokenKind.None)
        => new(result, kind, default, default);
}
