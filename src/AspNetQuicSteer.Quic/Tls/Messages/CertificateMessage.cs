using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Tls.Messages;

/// <summary>
/// Certificate (RFC 8446 §4.4.2): <c>opaque certificate_request_context&lt;0..2^8-1&gt;;
/// CertificateEntry certificate_list&lt;0..2^24-1&gt;</c>, entries <c>{ opaque cert_data&lt;1..2^24-1&gt;; Extension extensions&lt;0..2^16-1&gt;; }</c>.
/// Only X.509 entries (no raw public keys, RFC 7250).
/// </summary>
internal sealed class CertificateMessage
{
    public byte[] RequestContext { get; init; } = [];

    /// <summary>DER certificates, end-entity first (RFC 8446 §4.4.2).</summary>
    public IReadOnlyList<byte[]> Certificates { get; init; } = [];

    public static CertificateMessage Decode(ReadOnlySpan<byte> body)
    {
        try
        {
            QuicReader r = TlsDecoding.CreateReader(body);
            byte[] context = r.ReadUInt8PrefixedBytes().ToArray();
            QuicReader list = TlsDecoding.CreateReader(r.ReadUInt24PrefixedBytes());
            TlsDecoding.EnsureEnd(r, "Certificate");
            List<byte[]> certificates = [];
            while (!list.IsEmpty)
            {
                ReadOnlySpan<byte> certData = list.ReadUInt24PrefixedBytes();
                if (certData.IsEmpty)
                {
                    throw TlsDecoding.DecodeError("Empty cert_data in Certificate.");
                }

                // Per-entry extensions (OCSP status, SCT) are parsed for well-formedness and not used.
                TlsExtensionReader extensions = new(list.ReadUInt16PrefixedBytes());
                while (extensions.MoveNext(out _, out _))
                {
                }

                certificates.Add(certData.ToArray());
            }

            return new CertificateMessage { RequestContext = context, Certificates = certificates };
        }
        catch (QuicProtocolException e)
        {
            throw TlsDecoding.DecodeError("Certificate", e);
        }
    }

    public byte[] Encode()
    {
        int size = 16;
        foreach (byte[] c in Certificates)
        {
            size += c.Length + 5;
        }

        TlsBufferWriter w = new(size);
        int message = w.BeginMessage(TlsHandshakeType.Certificate);
        w.WriteVector8(RequestContext);
        int list = w.BeginVector(3);
        foreach (byte[] c in Certificates)
        {
            w.WriteVector24(c);
            w.WriteUInt16(0); // no per-entry extensions
        }

        w.EndVector(list, 3);
        w.EndMessage(message);
        return w.ToArray();
    }
}
