using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Tls.Messages;

/// <summary>EncryptedExtensions (RFC 8446 §4.3.1): <c>Extension extensions&lt;0..2^16-1&gt;</c>.</summary>
internal sealed class EncryptedExtensionsMessage
{
    /// <summary>The single selected ALPN protocol (RFC 7301 §3.1).</summary>
    public byte[]? ApplicationProtocol { get; init; }

    public byte[]? TransportParameters { get; init; }

    /// <summary>Empty server_name acknowledging SNI (RFC 6066 §3).</summary>
    public bool ServerNameAcknowledged { get; init; }

    /// <summary>early_data accepted (RFC 8446 §4.2.10); resumption seam.</summary>
    public bool EarlyDataAccepted { get; init; }

    public static EncryptedExtensionsMessage Decode(ReadOnlySpan<byte> body)
    {
        try
        {
            return DecodeCore(body);
        }
        catch (QuicProtocolException e)
        {
            throw TlsDecoding.DecodeError("EncryptedExtensions", e);
        }
    }

    private static EncryptedExtensionsMessage DecodeCore(ReadOnlySpan<byte> body)
    {
        QuicReader r = TlsDecoding.CreateReader(body);
        ReadOnlySpan<byte> block = r.ReadUInt16PrefixedBytes();
        TlsDecoding.EnsureEnd(r, "EncryptedExtensions");

        byte[]? alpn = null, transportParameters = null;
        bool serverName = false, earlyData = false;
        TlsExtensionReader extensions = new(block);
        while (extensions.MoveNext(out ushort type, out ReadOnlySpan<byte> data))
        {
            switch ((TlsExtensionType)type)
            {
                case TlsExtensionType.ApplicationLayerProtocolNegotiation:
                    List<byte[]> names = TlsAlpn.DecodeProtocolNameList(data);

                    // RFC 7301 §3.1: the server's response contains exactly one protocol name.
                    alpn = names.Count == 1 ? names[0] : throw TlsDecoding.DecodeError("Server ALPN must name exactly one protocol.");
                    break;
                case TlsExtensionType.QuicTransportParameters:
                    transportParameters = data.ToArray();
                    break;
                case TlsExtensionType.ServerName:
                    // RFC 6066 §3: the server's server_name extension_data is empty.
                    serverName = data.IsEmpty ? true : throw TlsDecoding.DecodeError("Server server_name must be empty.");
                    break;
                case TlsExtensionType.EarlyData:
                    earlyData = data.IsEmpty ? true : throw TlsDecoding.DecodeError("EncryptedExtensions early_data must be empty.");
                    break;
                case TlsExtensionType.SupportedGroups:
                    // RFC 8446 §4.2.7: servers may send their preferred groups; informational only.
                    break;
                default:
                    // RFC 8446 §4.2: recognised but not allowed here → illegal_parameter; unknown → unsolicited → unsupported_extension.
                    throw Enum.IsDefined((TlsExtensionType)type)
                        ? new TlsAlertException(TlsAlert.IllegalParameter, $"Extension 0x{type:x4} is not allowed in EncryptedExtensions.")
                        : new TlsAlertException(TlsAlert.UnsupportedExtension, $"Unsolicited extension 0x{type:x4} in EncryptedExtensions.");
            }
        }

        return new EncryptedExtensionsMessage
        {
            ApplicationProtocol = alpn,
            TransportParameters = transportParameters,
            ServerNameAcknowledged = serverName,
            EarlyDataAccepted = earlyData,
        };
    }

    public byte[] Encode()
    {
        TlsBufferWriter w = new(128 + (TransportParameters?.Length ?? 0));
        int message = w.BeginMessage(TlsHandshakeType.EncryptedExtensions);
        int block = w.BeginVector(2);
        if (ServerNameAcknowledged)
        {
            w.EndExtension(w.BeginExtension(TlsExtensionType.ServerName));
        }

        if (ApplicationProtocol is not null)
        {
            int ext = w.BeginExtension(TlsExtensionType.ApplicationLayerProtocolNegotiation);
            TlsAlpn.EncodeProtocolNameList(w, [ApplicationProtocol]);
            w.EndExtension(ext);
        }

        if (EarlyDataAccepted)
        {
            w.EndExtension(w.BeginExtension(TlsExtensionType.EarlyData));
        }

        if (TransportParameters is not null)
        {
            int ext = w.BeginExtension(TlsExtensionType.QuicTransportParameters);
            w.WriteBytes(TransportParameters);
            w.EndExtension(ext);
        }

        w.EndVector(block, 2);
        w.EndMessage(message);
        return w.ToArray();
    }
}
