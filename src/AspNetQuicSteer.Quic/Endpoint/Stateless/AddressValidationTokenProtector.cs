using System.Buffers.Binary;
using System.Security.Cryptography;
using AspNetQuicSteer.Quic.Wire;
using NSec.Cryptography;

namespace AspNetQuicSteer.Quic.Endpoint.Stateless;

/// <summary>
/// Seals and opens address-validation tokens (RFC 9000 §8.1): Retry tokens (§8.1.2) and NEW_TOKEN tokens (§8.1.3).
/// <para>
/// Wire form: key id (1, clear) || nonce (24, random) || XChaCha20-Poly1305(plaintext, AAD = key id) (plaintext + 16).
/// Plaintext: kind (1) || issued-at Unix milliseconds (8, big endian) || address length (1) || IP address (4/16) and,
/// for Retry tokens only, port (2) || ODCID length (1) || ODCID || Retry SCID length (1) || Retry SCID. The kind,
/// address and time are inside the authenticated ciphertext, so an opened token tells authentic-but-wrong-address
/// apart from forged. NEW_TOKEN tokens never carry a connection ID (§8.1.3: they must not link connections).
/// </para>
/// <para>
/// Cipher choice: XChaCha20-Poly1305 (libsodium through NSec, already a dependency) rather than AES-GCM because its
/// 192-bit random nonce has no practical reuse bound for one long-lived key shared by every generation (AES-GCM's
/// 96-bit random nonces are limited to about 2^32 tokens per key, reachable under a Retry flood), because a failed
/// open returns false instead of throwing (forged tokens cost no exception), and because the key object is
/// thread-safe.
/// </para>
/// <para>
/// Threading: immutable after construction; <see cref="WriteRetryToken"/>, <see cref="WriteNewToken"/> and
/// <see cref="Validate"/> may run concurrently from any number of endpoints or threads and allocate nothing.
/// Dispose only when no caller remains. Time is the caller's wall clock (the endpoint's TimeProvider): tokens cross
/// processes, so a monotonic per-process clock cannot be used.
/// </para>
/// </summary>
internal sealed class AddressValidationTokenProtector : IDisposable
{
    public const int NonceLength = 24;

    public const int TagLength = 16;

    /// <summary>Key id + nonce + tag.</summary>
    public const int Overhead = 1 + NonceLength + TagLength;

    private const int CommonPlaintextLength = 1 + 8 + 1; // kind, issued-at, address length (+ address)

    private const int MaxPlaintextLength = CommonPlaintextLength + PeerAddress.MaxAddressLength + 2 + 1 + ConnectionId.MaxLength + 1 + ConnectionId.MaxLength;

    /// <summary>Longest token this protector writes; longer input is rejected before any crypto.</summary>
    public const int MaxTokenLength = Overhead + MaxPlaintextLength;

    /// <summary>Shortest token this protector writes (a NEW_TOKEN token for an IPv4 client).</summary>
    public const int MinTokenLength = Overhead + CommonPlaintextLength + 4;

    private static readonly AeadAlgorithm Aead = AeadAlgorithm.XChaCha20Poly1305;

    private readonly SealingKey _current;
    private readonly SealingKey? _previous;

    public AddressValidationTokenProtector(StatelessKeyRing keys, AddressValidationTokenOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(keys);
        Options = options ?? new AddressValidationTokenOptions();
        _current = new SealingKey(keys.Current);
        _previous = keys.Previous is { } previous ? new SealingKey(previous) : null;
    }

    public AddressValidationTokenOptions Options { get; }

    /// <summary>Length of the Retry token <see cref="WriteRetryToken"/> writes for these inputs.</summary>
    public static int GetRetryTokenLength(in PeerAddress client, int originalDcidLength, int retryScidLength)
        => Overhead + CommonPlaintextLength + client.Address.Length + 2 + 1 + originalDcidLength + 1 + retryScidLength;

    /// <summary>Length of the NEW_TOKEN token <see cref="WriteNewToken"/> writes for this client.</summary>
    public static int GetNewTokenLength(in PeerAddress client) => Overhead + CommonPlaintextLength + client.Address.Length;

    /// <summary>
    /// RFC 9000 §8.1.2: a token for a Retry sent to <paramref name="client"/> in answer to an Initial whose DCID was
    /// <paramref name="originalDcid"/>, where the Retry's SCID is <paramref name="retryScid"/>. Returns its length.
    /// </summary>
    public int WriteRetryToken(in PeerAddress client, ReadOnlySpan<byte> originalDcid, ReadOnlySpan<byte> retryScid, DateTimeOffset now, Span<byte> destination)
    {
        if (client.IsEmpty)
        {
            throw new ArgumentException("A token must be bound to a client address.", nameof(client));
        }

        if (originalDcid.Length > ConnectionId.MaxLength || retryScid.Length > ConnectionId.MaxLength)
        {
            throw new ArgumentException("Version 1 connection IDs are at most 20 bytes (RFC 9000 §17.2).");
        }

        int length = GetRetryTokenLength(client, originalDcid.Length, retryScid.Length);
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, length, nameof(destination));
        Span<byte> plaintext = stackalloc byte[MaxPlaintextLength];
        int offset = WriteCommon(plaintext, AddressTokenKind.Retry, now, client);
        BinaryPrimitives.WriteUInt16BigEndian(plaintext[offset..], client.Port);
        offset += 2;
        plaintext[offset++] = (byte)originalDcid.Length;
        originalDcid.CopyTo(plaintext[offset..]);
        offset += originalDcid.Length;
        plaintext[offset++] = (byte)retryScid.Length;
        retryScid.CopyTo(plaintext[offset..]);
        offset += retryScid.Length;
        return Seal(plaintext[..offset], destination);
    }

    /// <summary>
    /// RFC 9000 §8.1.3: a token for a NEW_TOKEN frame, bound to the client's IP only (a client's port often changes
    /// between connections) and carrying no connection ID. Returns its length.
    /// </summary>
    public int WriteNewToken(in PeerAddress client, DateTimeOffset now, Span<byte> destination)
    {
        if (client.IsEmpty)
        {
            throw new ArgumentException("A token must be bound to a client address.", nameof(client));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, GetNewTokenLength(client), nameof(destination));
        Span<byte> plaintext = stackalloc byte[MaxPlaintextLength];
        int length = WriteCommon(plaintext, AddressTokenKind.NewToken, now, client);
        return Seal(plaintext[..length], destination);
    }

    /// <summary>
    /// Opens the Token field of a client Initial (RFC 9000 §17.2.2) received from <paramref name="client"/> with
    /// Destination Connection ID <paramref name="initialDcid"/>. Never throws for any token bytes.
    /// </summary>
    public AddressTokenValidation Validate(
        ReadOnlySpan<byte> token,
        in PeerAddress client,
        ReadOnlySpan<byte> initialDcid,
        DateTimeOffset now,
        AcceptedAddressTokenKinds accepted = AcceptedAddressTokenKinds.Any)
    {
        if (token.Length < MinTokenLength || token.Length > MaxTokenLength)
        {
            return AddressTokenValidation.Failed(AddressTokenValidationResult.Malformed);
        }

        byte keyId = token[0];
        ReadOnlySpan<byte> nonce = token.Slice(1, NonceLength);
        ReadOnlySpan<byte> ciphertext = token[(1 + NonceLength)..];
        Span<byte> plaintext = stackalloc byte[MaxPlaintextLength];
        plaintext = plaintext[..(ciphertext.Length - TagLength)];

        // Both keys are tried when their ids collide (a 1-in-256 chance per rotation); the AEAD tells them apart.
        bool keyKnown = false;
        bool opened = false;
        if (_current.KeyId == keyId)
        {
            keyKnown = true;
            opened = _current.TryOpen(nonce, ciphertext, plaintext);
        }

        if (!opened && _previous is not null && _previous.KeyId == keyId)
        {
            keyKnown = true;
            opened = _previous.TryOpen(nonce, ciphertext, plaintext);
        }

        if (!keyKnown)
        {
            return AddressTokenValidation.Failed(AddressTokenValidationResult.UnknownKey);
        }

        return opened
            ? Check(plaintext, client, initialDcid, now, accepted)
            : AddressTokenValidation.Failed(AddressTokenValidationResult.Malformed);
    }

    public void Dispose()
    {
        _current.Dispose();
        _previous?.Dispose();
    }

    private AddressTokenValidation Check(ReadOnlySpan<byte> plaintext, in PeerAddress client, ReadOnlySpan<byte> initialDcid, DateTimeOffset now, AcceptedAddressTokenKinds accepted)
    {
        // Authentic tokens were written by this code under our secret; the parse stays defensive anyway (a future
        // layout under the same secret must come out Malformed, not throw).
        var reader = new PlaintextReader(plaintext);
        if (!reader.TryReadByte(out byte kindByte) || !reader.TryReadBytes(8, out ReadOnlySpan<byte> issuedBytes)
            || !reader.TryReadByte(out byte addressLength) || addressLength is not (4 or 16)
            || !reader.TryReadBytes(addressLength, out ReadOnlySpan<byte> address))
        {
            return AddressTokenValidation.Failed(AddressTokenValidationResult.Malformed);
        }

        var kind = (AddressTokenKind)kindByte;
        ushort port = 0;
        ReadOnlySpan<byte> odcid = default;
        ReadOnlySpan<byte> rscid = default;
        switch (kind)
        {
            case AddressTokenKind.Retry:
                if (!reader.TryReadBytes(2, out ReadOnlySpan<byte> portBytes)
                    || !reader.TryReadConnectionId(out odcid) || !reader.TryReadConnectionId(out rscid))
                {
                    return AddressTokenValidation.Failed(AddressTokenValidationResult.Malformed);
                }

                port = BinaryPrimitives.ReadUInt16BigEndian(portBytes);
                break;
            case AddressTokenKind.NewToken:
                break;
            default:
                return AddressTokenValidation.Failed(AddressTokenValidationResult.Malformed);
        }

        if (!reader.IsEmpty)
        {
            return AddressTokenValidation.Failed(AddressTokenValidationResult.Malformed);
        }

        // RFC 9000 §8.1.4: a token of one kind is never accepted as the other.
        AcceptedAddressTokenKinds kindFlag = kind == AddressTokenKind.Retry ? AcceptedAddressTokenKinds.Retry : AcceptedAddressTokenKinds.NewToken;
        if ((accepted & kindFlag) == 0)
        {
            return AddressTokenValidation.Failed(AddressTokenValidationResult.WrongType, kind);
        }

        // RFC 9000 §8.1.2 / §8.1.3: Retry tokens are short-lived, NEW_TOKEN tokens carry an expiry.
        TimeSpan lifetime = kind == AddressTokenKind.Retry ? Options.RetryTokenLifetime : Options.NewTokenLifetime;
        long nowMs = now.ToUnixTimeMilliseconds();
        long issuedMs = BinaryPrimitives.ReadInt64BigEndian(issuedBytes);
        long ageMs = nowMs - issuedMs; // both within DateTimeOffset's range, so no overflow
        if (ageMs > (long)lifetime.TotalMilliseconds || ageMs < -(long)Options.MaxClockSkew.TotalMilliseconds)
        {
            return AddressTokenValidation.Failed(AddressTokenValidationResult.Expired, kind);
        }

        // RFC 9000 §8.1.2: a Retry token is bound to the address and port; §8.1.3: a NEW_TOKEN token to the IP only,
        // since a client's port usually changes between connections.
        if (!address.SequenceEqual(client.Address) || (kind == AddressTokenKind.Retry && port != client.Port))
        {
            return AddressTokenValidation.Failed(AddressTokenValidationResult.WrongAddress, kind);
        }

        if (kind == AddressTokenKind.NewToken)
        {
            return new AddressTokenValidation(AddressTokenValidationResult.Valid, kind, default, default);
        }

        // RFC 9000 §7.2: after a Retry the client's Initial uses the Retry's SCID as its DCID.
        if (!rscid.SequenceEqual(initialDcid))
        {
            return AddressTokenValidation.Failed(AddressTokenValidationResult.WrongConnectionId, kind);
        }

        return new AddressTokenValidation(AddressTokenValidationResult.Valid, kind, new ConnectionId(odcid), new ConnectionId(rscid));
    }

    /// <summary>Bounds-checked reads that report failure instead of throwing (QuicReader throws on short input).</summary>
    private ref struct PlaintextReader(ReadOnlySpan<byte> buffer)
    {
        private readonly ReadOnlySpan<byte> _buffer = buffer;
        private int _position;

        public readonly bool IsEmpty => _position == _buffer.Length;

        public bool TryReadByte(out byte value)
        {
            if (_position >= _buffer.Length)
            {
                value = 0;
                return false;
            }

            value = _buffer[_position++];
            return true;
        }

        public bool TryReadBytes(int count, out ReadOnlySpan<byte> value)
        {
            if (_buffer.Length - _position < count)
            {
                value = default;
                return false;
            }

            value = _buffer.Slice(_position, count);
            _position += count;
            return true;
        }

        public bool TryReadConnectionId(out ReadOnlySpan<byte> connectionId)
        {
            connectionId = default;
            return TryReadByte(out byte length) && length <= ConnectionId.MaxLength && TryReadBytes(length, out connectionId);
        }
    }

    private static int WriteCommon(Span<byte> plaintext, AddressTokenKind kind, DateTimeOffset now, in PeerAddress client)
    {
        plaintext[0] = (byte)kind;
        BinaryPrimitives.WriteInt64BigEndian(plaintext[1..], now.ToUnixTimeMilliseconds());
        plaintext[9] = (byte)client.Address.Length;
        client.Address.CopyTo(plaintext[10..]);
        return CommonPlaintextLength + client.Address.Length;
    }

    private int Seal(ReadOnlySpan<byte> plaintext, Span<byte> destination)
    {
        int length = Overhead + plaintext.Length;
        destination[0] = _current.KeyId;
        Span<byte> nonce = destination.Slice(1, NonceLength);
        RandomNumberGenerator.Fill(nonce);
        _current.Seal(nonce, plaintext, destination[(1 + NonceLength)..length]);
        return length;
    }

    /// <summary>One key set's AEAD key. NSec keys are thread-safe (libsodium keeps no per-call state in them).</summary>
    private sealed class SealingKey : IDisposable
    {
        private readonly Key _key;
        private readonly byte[] _associatedData;

        public SealingKey(StatelessKeyRing.StatelessKeySet keys)
        {
            KeyId = keys.KeyId;
            _associatedData = [keys.KeyId];
            _key = Key.Import(Aead, keys.TokenKey, KeyBlobFormat.RawSymmetricKey);
        }

        public byte KeyId { get; }

        public void Seal(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext)
            => Aead.Encrypt(_key, nonce, _associatedData, plaintext, ciphertext);

        public bool TryOpen(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, Span<byte> plaintext)
            => Aead.Decrypt(_key, nonce, _associatedData, ciphertext, plaintext);

        public void Dispose() => _key.Dispose();
    }
}

/// <summary>Lifetimes of address-validation tokens.</summary>
internal sealed class AddressValidationTokenOptions
{
    /// <summary>RFC 9000 §8.1.2: a Retry token is used right away, so a short lifetime suffices (default 10 s).</summary>
    public TimeSpan RetryTokenLifetime { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>RFC 9000 §8.1.3: a NEW_TOKEN token is for a later connection (default 24 h).</summary>
    public TimeSpan NewTokenLifetime { get; init; } = TimeSpan.FromHours(24);

    /// <summary>How far in the future an issued-at time may be (clocks of the generations' hosts differ slightly).</summary>
    public TimeSpan MaxClockSkew { get; init; } = TimeSpan.FromSeconds(5);
}
