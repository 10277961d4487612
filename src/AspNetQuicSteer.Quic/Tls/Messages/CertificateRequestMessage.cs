using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Tls.Messages;

/// <summary>CertificateRequest (RFC 8446 §4.3.2): <c>opaque certificate_request_context&lt;0..2^8-1&gt;; Extension extensions&lt;2..2^16-1&gt;</c>.</summary>
internal sealed class CertificateRequestMessage
{
    public byte[] RequestContext { get; init; } = [];

    public ushort[] SignatureAlgorithms { get; init; } = [];

    public ushort[]? SignatureAlgorithmsCert { get; init; }

    public static CertificateRequestMessage Decode(ReadOnlySpan<byte> body)
    {
        try
        {
            QuicReader r = TlsDecoding.CreateReader(body);
            byte[] context = r.ReadUInt8PrefixedBytes().ToArray();
            ReadOnlySpan<byte> block = r.ReadUInt16PrefixedBytes();
            TlsDecoding.EnsureEnd(r, "CertificateRequest");
            ushort[]? sigAlgs = null, sigAlgsCert = null;
            TlsExtensionReader extensions = new(block);
            while (extensions.MoveNext(out ushort type, out ReadOnlySpan<byte> data))
            {
                switch ((TlsExtensionType)type)
                {
                    case TlsExtensionType.SignatureAlgorithms:
                        sigAlgs = ReadList(data);
                        break;
                    case TlsExtensionType.SignatureAlgorithmsCert:
                        sigAlgsCert = ReadList(data);
                        break;
                    default:
                        // RFC 8446 §4.3.2: unrecognised extensions are ignored (certificate_authorities, oid_filters, ...).
                        break;
                }
            }

            // RFC 8446 §4.3.2: signature_algorithms MUST be specified → missing_extension.
            return sigAlgs is null
                ? throw new TlsAlertException(TlsAlert.MissingExtension, "CertificateRequest lacks signature_algorithms.")
                : new CertificateRequestMessage { RequestContext = context, SignatureAlgorithms = sigAlgs, SignatureAlgorithmsCert = sigAlgsCert };
        }
        catch (QuicProtocolException e)
        {
            throw TlsDecoding.DecodeError("CertificateRequest", e);
        }
    }

    private static ushort[] ReadList(ReadOnlySpan<byte> data)
    {
        QuicReader r = TlsDecoding.CreateReader(data);
        ReadOnlySpan<byte> list = r.ReadUInt16PrefixedBytes();
        TlsDecoding.EnsureEnd(r, "signature_algorithms");
        return TlsDecoding.ReadUInt16List(list, 2, "signature_algorithms");
    }

    public byte[] Encode()
    {
        TlsBufferWriter w = new(64);
        int message = w.BeginMessage(TlsHandshakeType.CertificateRequest);
        w.WriteVector8(RequestContext);
        int block = w.BeginVector(2);
        int ext = w.BeginExtension(TlsExtensionType.SignatureAlgorithms);
        int list = w.BeginVector(2);
        foreach (ushort s in SignatureAlgorithms)
        {
            w.WriteUInt16(s);
        }

        w.EndVector(list, 2);
        w.EndExtension(ext);
        w.EndVector(block, 2);
        w.EndMessage(message);
        return w.ToArray();
    }
}
