using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Tls;

/// <summary>
/// Iterates an extension block (RFC 8446 §4.2): <c>Extension extensions&lt;..2^16-1&gt;</c> with
/// <c>{ uint16 extension_type; opaque extension_data&lt;0..2^16-1&gt;; }</c>. Rejects duplicates.
/// </summary>
internal ref struct TlsExtensionReader
{
    private QuicReader _reader;
    private readonly HashSet<ushort> _seen;

    public TlsExtensionReader(ReadOnlySpan<byte> block)
    {
        _reader = TlsDecoding.CreateReader(block);
        _seen = [];
    }

    public readonly bool IsEmpty => _reader.IsEmpty;

    public bool MoveNext(out ushort type, out ReadOnlySpan<byte> data)
    {
        if (_reader.IsEmpty)
        {
            type = 0;
            data = default;
            return false;
        }

        try
        {
            type = _reader.ReadUInt16();
            data = _reader.ReadUInt16PrefixedBytes();
        }
        catch (QuicProtocolException e)
        {
            throw TlsDecoding.DecodeError("extension block", e);
        }

        // RFC 8446 §4.2: "There MUST NOT be more than one extension of the same type in a given extension block."
        if (!_seen.Add(type))
        {
            throw new TlsAlertException(TlsAlert.IllegalParameter, $"Duplicate extension 0x{type:x4}.");
        }

        return true;
    }
}
