using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Tls.Messages;

/// <summary>CertificateVerify (RFC 8446 §4.4.3): <c>SignatureScheme algorithm; opaque signature&lt;0..2^16-1&gt;</c>.</summary>
internal sealed class CertificateVerifyMessage
{
    public ushort Scheme { get; init; }

    public byte[] Signature { get; init; } = [];

    public static CertificateVerifyMessage Decode(ReadOnlySpan<byte> body)
    {
        try
        {
            QuicReader r = TlsDecoding.CreateReader(body);
            ushort scheme = r.ReadUInt16();
            byte[] signature = r.ReadUInt16PrefixedBytes().ToArray();
            TlsDecoding.EnsureEnd(r, "CertificateVerify");
            return new CertificateVerifyMessage { Scheme = scheme, Signature = signature };
        }
        catch (QuicProtocolException e)
        {
            throw TlsDecoding.DecodeError("CertificateVerify", e);
        }
    }

    public byte[] Encode()
    {
        TlsBufferWriter w = new(Signature.Length + 8);
        int message = w.BeginMessage(TlsHandshakeType.CertificateVerify);
        w.WriteUInt16(Scheme);
        w.WriteVector16(Signature);
        w.EndMessage(message);
        return w.ToArray();
    }
}
