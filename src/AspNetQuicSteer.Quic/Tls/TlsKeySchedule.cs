using System.Security.Cryptography;
using AspNetQuicSteer.Quic.Crypto;

namespace AspNetQuicSteer.Quic.Tls;

/// <summary>
/// The TLS 1.3 key schedule (RFC 8446 §7.1), one instance per handshake. Stages run in order: early secret
/// (from the PSK, or zeros), handshake secret (from the (EC)DHE shared secret), master secret. The PSK
/// constructor argument and <see cref="DeriveBinderKey"/>/<see cref="DeriveClientEarlyTrafficSecret"/> are the
/// seam for session resumption and 0-RTT.
/// </summary>
internal sealed class TlsKeySchedule : IDisposable
{
    private readonly HashAlgorithmName _hash;
    private readonly int _hashLength;
    private byte[]? _handshakeSecret;
    private byte[]? _masterSecret;

    /// <param name="suite">The negotiated suite; its hash drives HKDF.</param>
    /// <param name="psk">The pre-shared key, or empty for a full handshake (IKM = zeros).</param>
    public TlsKeySchedule(TlsCipherSuite suite, ReadOnlySpan<byte> psk = default)
    {
        Suite = suite;
        _hash = suite.Hash();
        _hashLength = suite.HashLength();
        Span<byte> zeros = stackalloc byte[_hashLength];
        zeros.Clear();

        // RFC 8446 §7.1: Early Secret = HKDF-Extract(salt = 0, IKM = PSK or 0^Hash.length).
        EarlySecret = Extract(psk.IsEmpty ? zeros : psk, zeros);
    }

    public TlsCipherSuite Suite { get; }

    public byte[] EarlySecret { get; }

    public byte[] HandshakeSecret => _handshakeSecret ?? throw new InvalidOperationException("Handshake secret not derived.");

    public byte[] MasterSecret => _masterSecret ?? throw new InvalidOperationException("Master secret not derived.");

    /// <summary>Transcript-Hash of the empty string, the context of the "derived" steps.</summary>
    public byte[] EmptyHash() => _hash == HashAlgorithmName.SHA384 ? SHA384.HashData(ReadOnlySpan<byte>.Empty) : SHA256.HashData(ReadOnlySpan<byte>.Empty);

    /// <summary>RFC 8446 §7.1: binder_key = Derive-Secret(Early Secret, "ext binder" | "res binder", "").</summary>
    public byte[] DeriveBinderKey(bool resumption)
        => HkdfLabel.DeriveSecret(_hash, EarlySecret, resumption ? "res binder"u8 : "ext binder"u8, EmptyHash());

    /// <summary>RFC 8446 §7.1: client_early_traffic_secret = Derive-Secret(Early Secret, "c e traffic", ClientHello).</summary>
    public byte[] DeriveClientEarlyTrafficSecret(ReadOnlySpan<byte> clientHelloHash)
        => HkdfLabel.DeriveSecret(_hash, EarlySecret, "c e traffic"u8, clientHelloHash);

    /// <summary>RFC 8446 §7.1: Handshake Secret = HKDF-Extract(Derive-Secret(Early Secret, "derived", ""), (EC)DHE).</summary>
    public void DeriveHandshakeSecret(ReadOnlySpan<byte> sharedSecret)
    {
        byte[] salt = HkdfLabel.DeriveSecret(_hash, EarlySecret, "derived"u8, EmptyHash());
        _handshakeSecret = Extract(sharedSecret, salt);
    }

    /// <summary>"c hs traffic" / "s hs traffic" over ClientHello...ServerHello (RFC 8446 §7.1).</summary>
    public (byte[] Client, byte[] Server) DeriveHandshakeTrafficSecrets(ReadOnlySpan<byte> transcriptHash)
        => (HkdfLabel.DeriveSecret(_hash, HandshakeSecret, "c hs traffic"u8, transcriptHash),
            HkdfLabel.DeriveSecret(_hash, HandshakeSecret, "s hs traffic"u8, transcriptHash));

    /// <summary>RFC 8446 §7.1: Master Secret = HKDF-Extract(Derive-Secret(Handshake Secret, "derived", ""), 0).</summary>
    public void DeriveMasterSecret()
    {
        byte[] salt = HkdfLabel.DeriveSecret(_hash, HandshakeSecret, "derived"u8, EmptyHash());
        Span<byte> zeros = stackalloc byte[_hashLength];
        zeros.Clear();
        _masterSecret = Extract(zeros, salt);
    }

    /// <summary>"c ap traffic" / "s ap traffic" over ClientHello...server Finished (RFC 8446 §7.1).</summary>
    public (byte[] Client, byte[] Server) DeriveApplicationTrafficSecrets(ReadOnlySpan<byte> transcriptHash)
        => (HkdfLabel.DeriveSecret(_hash, MasterSecret, "c ap traffic"u8, transcriptHash),
            HkdfLabel.DeriveSecret(_hash, MasterSecret, "s ap traffic"u8, transcriptHash));

    /// <summary>"exp master" over ClientHello...server Finished (RFC 8446 §7.1, §7.5).</summary>
    public byte[] DeriveExporterMasterSecret(ReadOnlySpan<byte> transcriptHash)
        => HkdfLabel.DeriveSecret(_hash, MasterSecret, "exp master"u8, transcriptHash);

    /// <summary>"res master" over ClientHello...client Finished (RFC 8446 §7.1); input to tickets (§4.6.1).</summary>
    public byte[] DeriveResumptionMasterSecret(ReadOnlySpan<byte> transcriptHash)
        => HkdfLabel.DeriveSecret(_hash, MasterSecret, "res master"u8, transcriptHash);

    /// <summary>RFC 8446 §4.6.1: PSK = HKDF-Expand-Label(resumption_master_secret, "resumption", ticket_nonce, Hash.length).</summary>
    public byte[] DeriveResumptionPsk(ReadOnlySpan<byte> resumptionMasterSecret, ReadOnlySpan<byte> ticketNonce)
        => HkdfLabel.ExpandLabel(_hash, resumptionMasterSecret, "resumption"u8, ticketNonce, _hashLength);

    /// <summary>RFC 8446 §4.4.4: finished_key = HKDF-Expand-Label(BaseKey, "finished", "", Hash.length).</summary>
    public byte[] DeriveFinishedKey(ReadOnlySpan<byte> baseKey)
        => HkdfLabel.ExpandLabel(_hash, baseKey, "finished"u8, [], _hashLength);

    /// <summary>RFC 8446 §4.4.4: verify_data = HMAC(finished_key, Transcript-Hash(...)).</summary>
    public byte[] ComputeFinishedVerifyData(ReadOnlySpan<byte> baseKey, ReadOnlySpan<byte> transcriptHash)
    {
        byte[] key = DeriveFinishedKey(baseKey);
        byte[] mac = _hash == HashAlgorithmName.SHA384 ? HMACSHA384.HashData(key, transcriptHash) : HMACSHA256.HashData(key, transcriptHash);
        CryptographicOperations.ZeroMemory(key);
        return mac;
    }

    private byte[] Extract(ReadOnlySpan<byte> ikm, ReadOnlySpan<byte> salt)
    {
        byte[] prk = new byte[_hashLength];
        HKDF.Extract(_hash, ikm, salt, prk);
        return prk;
    }

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(EarlySecret);
        if (_handshakeSecret is not null)
        {
            CryptographicOperations.ZeroMemory(_handshakeSecret);
        }

        if (_masterSecret is not null)
        {
            CryptographicOperations.ZeroMemory(_masterSecret);
        }
    }
}
