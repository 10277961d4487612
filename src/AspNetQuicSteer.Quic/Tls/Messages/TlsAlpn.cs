using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Tls.Messages;

/// <summary>ALPN extension body (RFC 7301 §3.1): <c>ProtocolName protocol_name_list&lt;2..2^16-1&gt;</c>, <c>opaque ProtocolName&lt;1..2^8-1&gt;</c>.</summary>
internal static class TlsAlpn
{
    public static List<byte[]> DecodeProtocolNameList(ReadOnlySpan<byte> data)
    {
        QuicReader r = TlsDecoding.CreateReader(data);
        QuicReader list = TlsDecoding.CreateReader(r.ReadUInt16PrefixedBytes());
        TlsDecoding.EnsureEnd(r, "application_layer_protocol_negotiation");
        if (list.IsEmpty)
        {
            throw TlsDecoding.DecodeError("ALPN protocol_name_list is empty.");
        }

        List<byte[]> names = [];
        while (!list.IsEmpty)
        {
            ReadOnlySpan<byte> name = list.ReadUInt8PrefixedBytes();

            // RFC 7301 §3.1: empty strings MUST NOT be included.
            if (name.IsEmpty)
            {
                throw TlsDecoding.DecodeError("Empty ALPN protocol name.");
            }

            names.Add(name.ToArray());
        }

        return names;
    }

    public static void EncodeProtocolNameList(TlsBufferWriter w, IEnumerable<byte[]> names)
    {
        int list = w.BeginVector(2);
        foreach (byte[] name in names)
        {
            w.WriteVector8(name);
        }

        w.EndVector(list, 2);
    }
}
