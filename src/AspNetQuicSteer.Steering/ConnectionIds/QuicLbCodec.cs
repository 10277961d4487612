using System.Security.Cryptography;

namespace AspNetQuicSteer.Steering.ConnectionIds;

/// <summary>
/// Encodes and decodes QUIC-LB connection IDs (draft-ietf-quic-load-balancers-21) for one
/// <see cref="QuicLbConfiguration"/>: the first octet (§3), then server ID and nonce in clear (no key), as one
/// AES-128-ECB block (§5.4.1, §5.5.1) or through the four-pass Feistel network (§5.4.2, §5.5.2).
/// <para>Crypto: one platform <see cref="Aes"/> per configuration, with ECB <see cref="ICryptoTransform"/>s created
/// once and reused for every block. The one-shot <c>Aes.EncryptEcb</c> creates a native cipher context per call
/// (about 64 bytes of garbage and microseconds each on .NET 10 / OpenSSL); a reused transform neither allocates
/// nor re-keys. Transforms take arrays, so the codec owns one input and one output block and serialises keyed
/// operations with a lock; the plaintext algorithm takes no lock. Nothing here allocates per CID.</para>
/// </summary>
internal sealed class QuicLbCodec : IDisposable
{
    private const int BlockLength = 16;

    /// <summary>§5.4.2.2: expand() output octet 15 is the plaintext length, octet 16 the pass number.</summary>
    private const int ExpandLengthOctet = 14;
    private const int ExpandPassOctet = 15;

    private readonly QuicLbConfiguration _configuration;
    private readonly Aes? _aes;
    private readonly ICryptoTransform? _encryptor;
    private readonly ICryptoTransform? _decryptor;
    private readonly byte[] _blockIn = new byte[BlockLength];
    private readonly byte[] _blockOut = new byte[BlockLength];
    private readonly Lock _gate = new();
    private bool _disposed;

    public QuicLbCodec(QuicLbConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        _configuration = configuration;
        if (!configuration.HasKey)
        {
            return;
        }

        _aes = Aes.Create();
        try
        {
            byte[] key = configuration.Key.ToArray();
            _aes.Key = key;
            CryptographicOperations.ZeroMemory(key);
#pragma warning disable CA5358 // draft-ietf-quic-load-balancers-21 §5.4 specifies AES-128-ECB on single blocks.
            _aes.Mode = CipherMode.ECB;
#pragma warning restore CA5358
            _aes.Padding = PaddingMode.None;
            _encryptor = _aes.CreateEncryptor();

            // Only the single-pass algorithm inverts AES; the Feistel network decrypts with AES encryptions (§5.5.2).
            if (configuration.Mode == QuicLbMode.SinglePass)
            {
                _decryptor = _aes.CreateDecryptor();
            }
        }
        catch
        {
            _encryptor?.Dispose();
            _aes.Dispose();
            throw;
        }
    }

    public QuicLbConfiguration Configuration => _configuration;

    /// <summary>
    /// Writes a QUIC-LB CID into <paramref name="connectionId"/>: first octet (§3.4: config rotation bits, then
    /// CID length − 1 when self-encoding per §3.3, else random bits) followed by the server ID and nonce, protected
    /// per <see cref="QuicLbConfiguration.Mode"/>. <paramref name="connectionId"/> may be longer than
    /// <see cref="QuicLbConfiguration.MinConnectionIdLength"/>: octets after the nonce are the server's own
    /// additional bytes (§5.4) and are left as the caller wrote them (they should be random).
    /// </summary>
    public void Encode(ReadOnlySpan<byte> serverId, ReadOnlySpan<byte> nonce, Span<byte> connectionId)
    {
        QuicLbConfiguration config = _configuration;
        if (serverId.Length != config.ServerIdLength)
        {
            throw new ArgumentException($"The configuration's server ID is {config.ServerIdLength} octets; got {serverId.Length}.", nameof(serverId));
        }

        if (nonce.Length != config.NonceLength)
        {
            throw new ArgumentException($"The configuration's nonce is {config.NonceLength} octets; got {nonce.Length}.", nameof(nonce));
        }

        if (connectionId.Length < config.MinConnectionIdLength || connectionId.Length > 20)
        {
            throw new ArgumentException(
                $"A CID for this configuration is {config.MinConnectionIdLength}..20 octets (first octet + server ID + nonce, " +
                $"RFC 9000 §17.2 limit); got {connectionId.Length}.", nameof(connectionId));
        }

        // §3.3: "the remaining 5 bits ... express the length of the following connection ID, not including the first
        // octet"; "A server not using this functionality SHOULD choose the five bits so as to have no observable
        // relationship to previous connection IDs" — so random.
        int lowBits;
        if (config.SelfEncodeLength)
        {
            lowBits = connectionId.Length - 1;
        }
        else
        {
            Span<byte> random = stackalloc byte[1];
            RandomNumberGenerator.Fill(random);
            lowBits = random[0] & 0x1F;
        }

        connectionId[0] = (byte)(config.ConfigRotationBits | lowBits);

        int length = config.PlaintextLength;
        Span<byte> plaintext = stackalloc byte[QuicLbConfiguration.MaxPlaintextLength];
        plaintext = plaintext[..length];
        serverId.CopyTo(plaintext);
        nonce.CopyTo(plaintext[config.ServerIdLength..]);
        Span<byte> block = connectionId.Slice(1, length);

        switch (config.Mode)
        {
            case QuicLbMode.Plaintext:
                plaintext.CopyTo(block);
                break;
            case QuicLbMode.SinglePass:
                lock (_gate)
                {
                    ObjectDisposedException.ThrowIf(_disposed, this);
                    Transform(_encryptor!, plaintext, block);
                }

                break;
            default:
                lock (_gate)
                {
                    ObjectDisposedException.ThrowIf(_disposed, this);
                    FourPassEncrypt(plaintext, block);
                }

                break;
        }
    }

    /// <summary>
    /// The load balancer's view (§5.5): true and the server ID when <paramref name="connectionId"/> is routable
    /// under this configuration. False (never an exception) when it is too short, carries config rotation 0b111 or
    /// another configuration's codepoint, or self-encodes an impossible length (§4.1). A span longer than the CID
    /// (e.g. the rest of a short header) is fine: only the first octet, server ID and nonce are read.
    /// </summary>
    public bool TryDecode(ReadOnlySpan<byte> connectionId, Span<byte> serverId)
        => TryDecode(connectionId, serverId, nonce: default);

    /// <summary>As <see cref="TryDecode(ReadOnlySpan{byte}, Span{byte})"/>; also recovers the nonce when <paramref name="nonce"/> is not empty.</summary>
    public bool TryDecode(ReadOnlySpan<byte> connectionId, Span<byte> serverId, Span<byte> nonce)
    {
        QuicLbConfiguration config = _configuration;
        if (serverId.Length != config.ServerIdLength)
        {
            throw new ArgumentException($"The configuration's server ID is {config.ServerIdLength} octets; got a {serverId.Length}-octet buffer.", nameof(serverId));
        }

        if (!nonce.IsEmpty && nonce.Length != config.NonceLength)
        {
            throw new ArgumentException($"The configuration's nonce is {config.NonceLength} octets; got a {nonce.Length}-octet buffer.", nameof(nonce));
        }

        if (!IsRoutable(connectionId))
        {
            return false;
        }

        int length = config.PlaintextLength;
        ReadOnlySpan<byte> block = connectionId.Slice(1, length);
        switch (config.Mode)
        {
            case QuicLbMode.Plaintext:
                // §5.5: "If there is no key, the first octets correspond to the server ID."
                block[..serverId.Length].CopyTo(serverId);
                if (!nonce.IsEmpty)
                {
                    block[serverId.Length..].CopyTo(nonce);
                }

                return true;
            case QuicLbMode.SinglePass:
            {
                // §5.5.1: decrypt the block; the server ID is its most significant octets.
                Span<byte> plaintext = stackalloc byte[BlockLength];
                lock (_gate)
                {
                    ObjectDisposedException.ThrowIf(_disposed, this);
                    Transform(_decryptor!, block, plaintext);
                }

                plaintext[..serverId.Length].CopyTo(serverId);
                if (!nonce.IsEmpty)
                {
                    plaintext[serverId.Length..].CopyTo(nonce);
                }

                CryptographicOperations.ZeroMemory(plaintext);
                return true;
            }

            default:
            {
                Span<byte> plaintext = stackalloc byte[QuicLbConfiguration.MaxPlaintextLength];
                plaintext = plaintext[..length];
                lock (_gate)
                {
                    ObjectDisposedException.ThrowIf(_disposed, this);
                    FourPassDecrypt(block, plaintext, needRight: !nonce.IsEmpty || config.ServerIdLength > config.NonceLength);
                }

                plaintext[..serverId.Length].CopyTo(serverId);
                if (!nonce.IsEmpty)
                {
                    plaintext[serverId.Length..].CopyTo(nonce);
                }

                return true;
            }
        }
    }

    /// <summary>
    /// The cheap part of §4.1's routability test, without crypto: long enough for this configuration, config
    /// rotation bits equal to this configuration's (so never 0b111), and — when every server self-encodes the
    /// length (§3.3) — a self-encoded length that is at least what the configuration needs (the third optional
    /// check of §4.1) and not longer than <paramref name="connectionId"/>.
    /// </summary>
    public bool IsRoutable(ReadOnlySpan<byte> connectionId)
    {
        QuicLbConfiguration config = _configuration;
        if (connectionId.Length < config.MinConnectionIdLength)
        {
            return false;
        }

        int rotation = connectionId[0] >> 5;
        if (rotation == QuicLbConfiguration.UnroutableConfigRotation || rotation != config.ConfigRotation)
        {
            return false;
        }

        if (config.SelfEncodeLength)
        {
            int encodedLength = (connectionId[0] & 0x1F) + 1;
            if (encodedLength < config.MinConnectionIdLength || encodedLength > connectionId.Length)
            {
                return false;
            }
        }

        return true;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _encryptor?.Dispose();
            _decryptor?.Dispose();
            _aes?.Dispose();
            CryptographicOperations.ZeroMemory(_blockIn);
            CryptographicOperations.ZeroMemory(_blockOut);
        }
    }

    /// <summary>
    /// §5.4.2.2 expand(): <paramref name="half"/> in the most significant octets, zero padding, then the plaintext
    /// length in octet 15 and the pass number in octet 16. E.g. expand(0x06, 0x02, 0xaaba3c) =
    /// 0xaaba3c00000000000000000000000602.
    /// </summary>
    internal static void Expand(int plaintextLength, int pass, ReadOnlySpan<byte> half, Span<byte> block)
    {
        block[..BlockLength].Clear();
        half.CopyTo(block);
        block[ExpandLengthOctet] = (byte)plaintextLength;
        block[ExpandPassOctet] = (byte)pass;
    }

    // Caller holds _gate.
    private void Transform(ICryptoTransform transform, ReadOnlySpan<byte> input, Span<byte> output)
    {
        input.CopyTo(_blockIn);
        transform.TransformBlock(_blockIn, 0, BlockLength, _blockOut, 0);
        _blockOut.CopyTo(output);
    }

    /// <summary>
    /// One Feistel pass (§5.4.2.3 steps 3-4 and their repetitions): target ^= truncate(AES_ECB(key, expand(len, pass,
    /// source)), half_len). Caller holds _gate.
    /// </summary>
    private void Pass(int plaintextLength, int pass, ReadOnlySpan<byte> source, Span<byte> target)
    {
        Expand(plaintextLength, pass, source, _blockIn);
        _encryptor!.TransformBlock(_blockIn, 0, BlockLength, _blockOut, 0);
        for (int i = 0; i < target.Length; i++)
        {
            target[i] ^= _blockOut[i];
        }
    }

    /// <summary>§5.4.2.3: the server's four passes. Caller holds _gate.</summary>
    private void FourPassEncrypt(ReadOnlySpan<byte> plaintext, Span<byte> ciphertext)
    {
        int length = plaintext.Length;
        int half = (length + 1) / 2; // half_len: plaintext_len / 2 rounded up
        bool odd = (length & 1) != 0;
        Span<byte> left = stackalloc byte[BlockLength / 2 + 2];
        Span<byte> right = stackalloc byte[BlockLength / 2 + 2];
        left = left[..half];
        right = right[..half];

        Split(plaintext, left, right, odd);         // step 2: left_0, right_0
        Pass(length, 1, left, right);               // steps 3-4: right_1
        ClearRightHalf(right, odd);                 // step 5
        Pass(length, 2, right, left);               // step 6: left_1
        ClearLeftHalf(left, odd);                   // step 7
        Pass(length, 3, left, right);               // step 8: right_2
        ClearRightHalf(right, odd);                 // step 9
        Pass(length, 4, right, left);               // step 10: left_2
        ClearLeftHalf(left, odd);                   // step 11
        Join(left, right, ciphertext, odd);         // step 12
        CryptographicOperations.ZeroMemory(left);
        CryptographicOperations.ZeroMemory(right);
    }

    /// <summary>
    /// §5.5.2: the load balancer's passes in reverse. Three suffice when the server ID lies entirely in left_0 (the
    /// nonce is at least as long as the server ID); the fourth recovers right_0. Note the draft's pseudocode clears
    /// left_1 after computing right_1; the symmetric (and encoder-consistent, step 5) operation clears right_1,
    /// which is what this does. Caller holds _gate.
    /// </summary>
    private void FourPassDecrypt(ReadOnlySpan<byte> ciphertext, Span<byte> plaintext, bool needRight)
    {
        int length = ciphertext.Length;
        int half = (length + 1) / 2;
        bool odd = (length & 1) != 0;
        Span<byte> left = stackalloc byte[BlockLength / 2 + 2];
        Span<byte> right = stackalloc byte[BlockLength / 2 + 2];
        left = left[..half];
        right = right[..half];

        Split(ciphertext, left, right, odd);        // left_2, right_2
        Pass(length, 4, right, left);               // left_1
        ClearLeftHalf(left, odd);
        Pass(length, 3, left, right);               // right_1
        ClearRightHalf(right, odd);
        Pass(length, 2, right, left);               // left_0
        ClearLeftHalf(left, odd);
        if (needRight)
        {
            Pass(length, 1, left, right);           // right_0
            ClearRightHalf(right, odd);
        }
        else
        {
            right.Clear();
        }

        Join(left, right, plaintext, odd);
        CryptographicOperations.ZeroMemory(left);
        CryptographicOperations.ZeroMemory(right);
    }

    /// <summary>
    /// §5.4.2.3 step 2: equal halves of half_len octets; for an odd length the middle octet is shared, left keeping
    /// its high and right its low four bits (0x7040b81b55ccf3 → 0x7040b810, 0x0b55ccf3).
    /// </summary>
    private static void Split(ReadOnlySpan<byte> whole, Span<byte> left, Span<byte> right, bool odd)
    {
        int half = left.Length;
        whole[..half].CopyTo(left);
        whole[(whole.Length - half)..].CopyTo(right);
        ClearLeftHalf(left, odd);
        ClearRightHalf(right, odd);
    }

    /// <summary>§5.4.2.3 step 12: concatenate; for an odd length merge the shared middle octet (its zero nibbles are stripped).</summary>
    private static void Join(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right, Span<byte> whole, bool odd)
    {
        int half = left.Length;
        if (!odd)
        {
            left.CopyTo(whole);
            right.CopyTo(whole[half..]);
            return;
        }

        left[..(half - 1)].CopyTo(whole);
        whole[half - 1] = (byte)(left[half - 1] | right[0]);
        right[1..].CopyTo(whole[half..]);
    }

    /// <summary>"left clears its last four bits" when the plaintext length is odd.</summary>
    private static void ClearLeftHalf(Span<byte> left, bool odd)
    {
        if (odd)
        {
            left[^1] &= 0xF0;
        }
    }

    /// <summary>"right clears its first four bits" when the plaintext length is odd.</summary>
    private static void ClearRightHalf(Span<byte> right, bool odd)
    {
        if (odd)
        {
            right[0] &= 0x0F;
        }
    }
}
