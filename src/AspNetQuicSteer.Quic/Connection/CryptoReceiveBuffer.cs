using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Connection;

/// <summary>
/// Reassembles one encryption level's CRYPTO stream from frames that may arrive out of order, duplicated
/// or overlapping (RFC 9000 §19.6, §7.5), and hands contiguous bytes to TLS. Chromium sends its
/// ClientHello as out-of-order CRYPTO frames spread across two Initial packets; that is the case this exists for.
/// </summary>
internal sealed class CryptoReceiveBuffer
{
    /// <summary>
    /// RFC 9000 §7.5: an endpoint must buffer at least 4096 bytes of out-of-order CRYPTO data and may close
    /// with CRYPTO_BUFFER_EXCEEDED beyond its limit. 64 KiB leaves room for large certificate chains.
    /// </summary>
    public const int DefaultMaxBuffered = 64 * 1024;

    /// <summary>Gaps tracked before a peer's fragmentation is treated as CRYPTO_BUFFER_EXCEEDED (bounds state per connection).</summary>
    public const int MaxFragments = 256;

    private readonly RangeSet _received = new();
    private readonly int _maxBuffered;
    private byte[] _buffer = new byte[2048];
    private ulong _readOffset;

    public CryptoReceiveBuffer(int maxBuffered = DefaultMaxBuffered)
    {
        _maxBuffered = maxBuffered;
    }

    /// <summary>Bytes already handed to TLS.</summary>
    public ulong ReadOffset => _readOffset;

    /// <summary>Stores the frame's data. Data below the read offset is a retransmission and is ignored.</summary>
    public void Insert(ulong offset, ReadOnlySpan<byte> data)
    {
        ulong end = offset + (ulong)data.Length;
        if (end <= _readOffset || data.IsEmpty) return;

        if (offset < _readOffset)
        {
            data = data[(int)(_readOffset - offset)..];
            offset = _readOffset;
        }

        ulong windowEnd = end - _readOffset;
        if (windowEnd > (ulong)_maxBuffered)
        {
            throw new QuicProtocolException(TransportErrorCode.CryptoBufferExceeded,
                $"CRYPTO data at offset {offset} exceeds the {_maxBuffered}-byte reassembly limit.", 0x06);
        }

        int needed = (int)windowEnd;
        if (needed > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Min(Math.Max(needed, _buffer.Length * 2), _maxBuffered));
        }

        data.CopyTo(_buffer.AsSpan((int)(offset - _readOffset)));
        _received.Add(offset, end);
        if (_received.Count > MaxFragments)
        {
            throw new QuicProtocolException(TransportErrorCode.CryptoBufferExceeded,
                $"CRYPTO data arrived in more than {MaxFragments} disjoint fragments.", 0x06);
        }
    }

    /// <summary>The contiguous bytes available from the read offset (possibly empty).</summary>
    public ReadOnlySpan<byte> Contiguous
    {
        get
        {
            if (_received.IsEmpty) return default;
            (ulong start, ulong end) = _received[0];
            return start > _readOffset ? default : _buffer.AsSpan(0, (int)(end - _readOffset));
        }
    }

    /// <summary>Marks <paramref name="count"/> contiguous bytes as consumed.</summary>
    public void Consume(int count)
    {
        if (count <= 0) return;
        Buffer.BlockCopy(_buffer, count, _buffer, 0, _buffer.Length - count);
        _readOffset += (ulong)count;
        _received.RemoveBelow(_readOffset);
    }
}
