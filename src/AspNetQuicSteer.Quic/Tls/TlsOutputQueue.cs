using AspNetQuicSteer.Quic.Crypto;

namespace AspNetQuicSteer.Quic.Tls;

/// <summary>The two event queues a session exposes to QUIC: new traffic secrets and handshake bytes per level.</summary>
internal sealed class TlsOutputQueue
{
    private readonly Queue<TlsTrafficSecret> _secrets = new();
    private readonly Queue<(EncryptionLevel Level, byte[] Data)> _data = new();

    /// <summary>Queues a copy: the consumer owns it (e.g. for later key updates) even after the session zeroes its own.</summary>
    public void AddSecret(EncryptionLevel level, TlsKeyDirection direction, TlsCipherSuite suite, byte[] secret)
        => _secrets.Enqueue(new TlsTrafficSecret(level, direction, suite, secret.ToArray()));

    public void AddData(EncryptionLevel level, byte[] data) => _data.Enqueue((level, data));

    /// <summary>Queues several messages at one level as a single chunk.</summary>
    public void AddData(EncryptionLevel level, IReadOnlyList<byte[]> messages)
    {
        int total = 0;
        foreach (byte[] m in messages)
        {
            total += m.Length;
        }

        byte[] chunk = new byte[total];
        int offset = 0;
        foreach (byte[] m in messages)
        {
            m.CopyTo(chunk, offset);
            offset += m.Length;
        }

        _data.Enqueue((level, chunk));
    }

    public bool TryGetSecret(out TlsTrafficSecret secret) => _secrets.TryDequeue(out secret);

    public bool TryGetData(out EncryptionLevel level, out ReadOnlyMemory<byte> data)
    {
        if (_data.TryDequeue(out (EncryptionLevel Level, byte[] Data) item))
        {
            level = item.Level;
            data = item.Data;
            return true;
        }

        level = default;
        data = default;
        return false;
    }
}
