using System.Security.Cryptography;

namespace AspNetQuicSteer.Quic.Tls;

/// <summary>
/// The running transcript hash (RFC 8446 §4.4.1). The client does not know the hash until the server picks a
/// suite, so messages are buffered until <see cref="SetHash"/>. After a HelloRetryRequest, ClientHello1 is
/// replaced by the synthetic message_hash message.
/// </summary>
internal sealed class TlsTranscript : IDisposable
{
    private readonly List<byte[]> _pending = [];
    private IncrementalHash? _hash;
    private HashAlgorithmName _algorithm;

    public bool HasHash => _hash is not null;

    public void SetHash(HashAlgorithmName algorithm)
    {
        if (_hash is not null)
        {
            return;
        }

        _algorithm = algorithm;
        _hash = IncrementalHash.CreateHash(algorithm);
        foreach (byte[] message in _pending)
        {
            _hash.AppendData(message);
        }

        _pending.Clear();
    }

    public void Append(ReadOnlySpan<byte> message)
    {
        if (_hash is null)
        {
            _pending.Add(message.ToArray());
        }
        else
        {
            _hash.AppendData(message);
        }
    }

    /// <summary>Transcript-Hash of everything appended so far.</summary>
    public byte[] CurrentHash()
        => _hash?.GetCurrentHash() ?? throw new InvalidOperationException("Transcript hash algorithm not chosen yet.");

    /// <summary>
    /// RFC 8446 §4.4.1: when the server answers with a HelloRetryRequest, ClientHello1 is replaced by
    /// <c>message_hash(254) || 00 00 Hash.length || Hash(ClientHello1)</c>. Call when the transcript holds exactly ClientHello1.
    /// </summary>
    public void ReplaceWithMessageHash()
    {
        byte[] clientHelloHash = CurrentHash();
        _hash!.Dispose();
        _hash = IncrementalHash.CreateHash(_algorithm);
        Span<byte> header = [(byte)TlsHandshakeType.MessageHash, 0, 0, (byte)clientHelloHash.Length];
        _hash.AppendData(header);
        _hash.AppendData(clientHelloHash);
    }

    public void Dispose() => _hash?.Dispose();
}
