using AspNetQuicSteer.Quic.Crypto;

namespace AspNetQuicSteer.Quic.Tls;

/// <summary>
/// Reassembles handshake messages (RFC 8446 §4: msg_type(1) length(3) body) from CRYPTO stream bytes that
/// arrive in arbitrary pieces. At any moment exactly one encryption level may carry handshake messages to
/// this endpoint (RFC 9001 §4.1.3), so a single buffer tagged with that level is kept: bytes at any other
/// level, or bytes left over when the level changes (a message spanning a key change, RFC 8446 §5.1), are
/// unexpected_message.
/// </summary>
internal sealed class TlsHandshakeFramer
{
    private byte[] _buffer = new byte[1024];
    private int _start;
    private int _end;

    public TlsHandshakeFramer(EncryptionLevel level)
    {
        Level = level;
    }

    /// <summary>The level at which the peer may currently send handshake messages.</summary>
    public EncryptionLevel Level { get; private set; }

    public bool HasBufferedData => _end > _start;

    public void Append(EncryptionLevel level, ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        // RFC 9001 §4.1.3: handshake data at a level other than the one the state machine expects is a
        // TLS protocol error (unexpected_message).
        if (level != Level)
        {
            throw new TlsAlertException(TlsAlert.UnexpectedMessage, $"Handshake data at {level} while expecting {Level}.");
        }

        if (_buffer.Length - _end < data.Length)
        {
            int live = _end - _start;
            byte[] target = live + data.Length <= _buffer.Length ? _buffer : new byte[Math.Max(_buffer.Length * 2, live + data.Length)];
            _buffer.AsSpan(_start, live).CopyTo(target);
            _buffer = target;
            _start = 0;
            _end = live;
        }

        data.CopyTo(_buffer.AsSpan(_end));
        _end += data.Length;
    }

    /// <summary>Returns the next complete message (header included) when one is buffered.</summary>
    public bool TryReadMessage(out TlsHandshakeType type, out byte[] message)
    {
        int available = _end - _start;
        if (available >= TlsConstants.HandshakeHeaderLength)
        {
            ReadOnlySpan<byte> b = _buffer.AsSpan(_start);
            int length = b[1] << 16 | b[2] << 8 | b[3];
            if (length > TlsConstants.MaxHandshakeMessageLength)
            {
                throw new TlsAlertException(TlsAlert.DecodeError, $"Handshake message of {length} bytes exceeds the limit.");
            }

            int total = TlsConstants.HandshakeHeaderLength + length;
            if (available >= total)
            {
                type = (TlsHandshakeType)b[0];
                message = b[..total].ToArray();
                _start += total;
                if (_start == _end)
                {
                    _start = _end = 0;
                }

                return true;
            }
        }

        type = default;
        message = [];
        return false;
    }

    /// <summary>
    /// Moves to the next receive level. RFC 8446 §5.1: handshake messages MUST NOT span key changes; data
    /// still buffered at the old level is unexpected_message.
    /// </summary>
    public void SwitchLevel(EncryptionLevel level)
    {
        if (HasBufferedData)
        {
            throw new TlsAlertException(TlsAlert.UnexpectedMessage, $"Handshake data at {Level} continues past a key change.");
        }

        Level = level;
    }
}
