namespace AspNetQuicSteer.Quic.Connection;

/// <summary>
/// Outgoing CRYPTO stream of one encryption level (RFC 9000 §19.6). Keeps every byte until acknowledged
/// so lost or PTO-probed data can be sent again (RFC 9002 §6.2.4); handshake data is small and bounded.
/// </summary>
internal sealed class CryptoSendBuffer
{
    private readonly RangeSet _acked = new();
    private readonly RangeSet _pending = new();
    private byte[] _data = new byte[1024];
    private int _length;

    /// <summary>Total bytes written by TLS at this level.</summary>
    public ulong Length => (ulong)_length;

    public bool HasPendingData => !_pending.IsEmpty;

    public bool IsFullyAcknowledged => _length == 0 || _acked.ContainsRange(0, (ulong)_length);

    public void Append(ReadOnlySpan<byte> bytes)
    {
        if (_length + bytes.Length > _data.Length)
        {
            Array.Resize(ref _data, Math.Max(_data.Length * 2, _length + bytes.Length));
        }

        bytes.CopyTo(_data.AsSpan(_length));
        _pending.Add((ulong)_length, (ulong)(_length + bytes.Length));
        _length += bytes.Length;
    }

    /// <summary>The next pending range, at most <paramref name="maxLength"/> bytes, without removing it.</summary>
    public bool TryPeekPending(int maxLength, out ulong offset, out ReadOnlySpan<byte> data)
    {
        if (_pending.IsEmpty || maxLength <= 0)
        {
            offset = 0;
            data = default;
            return false;
        }

        (ulong start, ulong end) = _pending[0];
        int length = (int)Math.Min(end - start, (ulong)maxLength);
        offset = start;
        data = _data.AsSpan((int)start, length);
        return true;
    }

    public void MarkSent(ulong offset, int length) => _pending.Remove(offset, offset + (ulong)length);

    public void MarkAcknowledged(ulong offset, int length)
    {
        _acked.Add(offset, offset + (ulong)length);
        _pending.Remove(offset, offset + (ulong)length);
    }

    /// <summary>Queues a sent range again unless it was acknowledged meanwhile (RFC 9002 §6.1 loss, §6.2.4 probes).</summary>
    public void MarkLost(ulong offset, int length)
    {
        ulong end = offset + (ulong)length;
        ulong cursor = offset;
        for (int i = 0; i < _acked.Count && cursor < end; i++)
        {
            (ulong s, ulong e) = _acked[i];
            if (e <= cursor) continue;
            if (s >= end) break;
            if (s > cursor) _pending.Add(cursor, s);
            cursor = Math.Max(cursor, e);
        }

        if (cursor < end) _pending.Add(cursor, end);
    }

    /// <summary>Queues every unacknowledged byte again (PTO probe of the whole flight).</summary>
    public void RequeueUnacknowledged() => MarkLost(0, _length);
}
