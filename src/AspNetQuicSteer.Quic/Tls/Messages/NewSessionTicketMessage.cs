using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Tls.Messages;

/// <summary>
/// NewSessionTicket (RFC 8446 §4.6.1). Codec only: the resumption seam. In QUIC, an early_data extension's
/// max_early_data_size must be 0xffffffff (RFC 9001 §4.6.1).
/// </summary>
internal sealed class NewSessionTicketMessage
{
    public uint Lifetime { get; init; }

    public uint AgeAdd { get; init; }

    public byte[] Nonce { get; init; } = [];

    public byte[] Ticket { get; init; } = [];

    public uint? MaxEarlyDataSize { get; init; }

    public static NewSessionTicketMessage Decode(ReadOnlySpan<byte> body)
    {
        try
        {
            QuicReader r = TlsDecoding.CreateReader(body);
            uint lifetime = r.ReadUInt32();
            uint ageAdd = r.ReadUInt32();
            byte[] nonce = r.ReadUInt8PrefixedBytes().ToArray();
            ReadOnlySpan<byte> ticket = r.ReadUInt16PrefixedBytes();
            if (ticket.IsEmpty)
            {
                throw TlsDecoding.DecodeError("Empty ticket in NewSessionTicket.");
            }

            ReadOnlySpan<byte> block = r.ReadUInt16PrefixedBytes();
            TlsDecoding.EnsureEnd(r, "NewSessionTicket");
            uint? maxEarlyData = null;
            TlsExtensionReader extensions = new(block);
            while (extensions.MoveNext(out ushort type, out ReadOnlySpan<byte> data))
            {
                if (type == (ushort)TlsExtensionType.EarlyData)
                {
                    QuicReader e = TlsDecoding.CreateReader(data);
                    maxEarlyData = e.ReadUInt32();
                    TlsDecoding.EnsureEnd(e, "early_data");
                }
            }

            return new NewSessionTicketMessage { Lifetime = lifetime, AgeAdd = ageAdd, Nonce = nonce, Ticket = ticket.ToArray(), MaxEarlyDataSize = maxEarlyData };
        }
        catch (QuicProtocolException e)
        {
            throw TlsDecoding.DecodeError("NewSessionTicket", e);
        }
    }

    public byte[] Encode()
    {
        TlsBufferWriter w = new(Ticket.Length + Nonce.Length + 32);
        int message = w.BeginMessage(TlsHandshakeType.NewSessionTicket);
        w.WriteUInt32(Lifetime);
        w.WriteUInt32(AgeAdd);
        w.WriteVector8(Nonce);
        w.WriteVector16(Ticket);
        int block = w.BeginVector(2);
        if (MaxEarlyDataSize is { } max)
        {
            int ext = w.BeginExtension(TlsExtensionType.EarlyData);
            w.WriteUInt32(max);
            w.EndExtension(ext);
        }

        w.EndVector(block, 2);
        w.EndMessage(message);
        return w.ToArray();
    }
}
