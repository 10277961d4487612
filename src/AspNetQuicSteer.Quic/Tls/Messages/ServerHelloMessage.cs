using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Tls.Messages;

/// <summary>
/// ServerHello and HelloRetryRequest (RFC 8446 §4.1.3, §4.1.4): same structure, the HelloRetryRequest is
/// recognised by its special random.
/// </summary>
internal sealed class ServerHelloMessage
{
    public byte[] Random { get; init; } = [];

    public byte[] LegacySessionIdEcho { get; init; } = [];

    public ushort CipherSuite { get; init; }

    /// <summary>supported_versions selected_version; null when absent (a pre-TLS-1.3 server).</summary>
    public ushort? SelectedVersion { get; init; }

    /// <summary>ServerHello key_share: the server's share.</summary>
    public TlsKeyShareEntry? KeyShare { get; init; }

    /// <summary>HelloRetryRequest key_share: the group the client must use.</summary>
    public ushort? SelectedGroup { get; init; }

    /// <summary>HelloRetryRequest cookie.</summary>
    public byte[]? Cookie { get; init; }

    /// <summary>ServerHello pre_shared_key selected_identity (resumption seam).</summary>
    public ushort? SelectedPskIdentity { get; init; }

    public bool IsHelloRetryRequest => Random.AsSpan().SequenceEqual(TlsConstants.HelloRetryRequestRandom);

    public static ServerHelloMessage Decode(ReadOnlySpan<byte> body)
    {
        try
        {
            return DecodeCore(body);
        }
        catch (QuicProtocolException e)
        {
            throw TlsDecoding.DecodeError("ServerHello", e);
        }
    }

    private static ServerHelloMessage DecodeCore(ReadOnlySpan<byte> body)
    {
        QuicReader r = TlsDecoding.CreateReader(body);
        _ = r.ReadUInt16(); // legacy_version (RFC 8446 §4.1.3); supported_versions decides.
        byte[] random = r.ReadBytes(TlsConstants.RandomLength).ToArray();
        ReadOnlySpan<byte> sessionId = r.ReadUInt8PrefixedBytes();
        if (sessionId.Length > 32)
        {
            throw TlsDecoding.DecodeError("legacy_session_id_echo longer than 32 bytes.");
        }

        ushort suite = r.ReadUInt16();

        // RFC 8446 §4.1.3: legacy_compression_method MUST be 0.
        if (r.ReadByte() != 0)
        {
            throw new TlsAlertException(TlsAlert.IllegalParameter, "ServerHello legacy_compression_method must be 0.");
        }

        bool isRetry = random.AsSpan().SequenceEqual(TlsConstants.HelloRetryRequestRandom);
        ReadOnlySpan<byte> block = r.IsEmpty ? default : r.ReadUInt16PrefixedBytes();
        TlsDecoding.EnsureEnd(r, "ServerHello");

        ushort? version = null, selectedGroup = null, pskIdentity = null;
        TlsKeyShareEntry? keyShare = null;
        byte[]? cookie = null;
        TlsExtensionReader extensions = new(block);
        while (extensions.MoveNext(out ushort type, out ReadOnlySpan<byte> data))
        {
            QuicReader e = TlsDecoding.CreateReader(data);
            switch ((TlsExtensionType)type)
            {
                case TlsExtensionType.SupportedVersions:
                    version = e.ReadUInt16();
                    break;
                case TlsExtensionType.KeyShare when isRetry:
                    selectedGroup = e.ReadUInt16();
                    break;
                case TlsExtensionType.KeyShare:
                    ushort group = e.ReadUInt16();
                    ReadOnlySpan<byte> key = e.ReadUInt16PrefixedBytes();
                    if (key.IsEmpty)
                    {
                        throw TlsDecoding.DecodeError("ServerHello key_share with empty key_exchange.");
                    }

                    keyShare = new TlsKeyShareEntry(group, key.ToArray());
                    break;
                case TlsExtensionType.Cookie when isRetry:
                    ReadOnlySpan<byte> c = e.ReadUInt16PrefixedBytes();
                    cookie = c.IsEmpty ? throw TlsDecoding.DecodeError("Empty cookie.") : c.ToArray();
                    break;
                case TlsExtensionType.PreSharedKey when !isRetry:
                    pskIdentity = e.ReadUInt16();
                    break;
                default:
                    // RFC 8446 §4.2: an extension not allowed in this message → illegal_parameter when recognised;
                    // anything else is a response the client never solicited → unsupported_extension.
                    throw Enum.IsDefined((TlsExtensionType)type)
                        ? new TlsAlertException(TlsAlert.IllegalParameter, $"Extension 0x{type:x4} is not allowed in {(isRetry ? "HelloRetryRequest" : "ServerHello")}.")
                        : new TlsAlertException(TlsAlert.UnsupportedExtension, $"Unsolicited extension 0x{type:x4} in ServerHello.");
            }

            TlsDecoding.EnsureEnd(e, "ServerHello extension");
        }

        return new ServerHelloMessage
        {
            Random = random,
            LegacySessionIdEcho = sessionId.ToArray(),
            CipherSuite = suite,
            SelectedVersion = version,
            KeyShare = keyShare,
            SelectedGroup = selectedGroup,
            Cookie = cookie,
            SelectedPskIdentity = pskIdentity,
        };
    }

    public byte[] Encode()
    {
        TlsBufferWriter w = new(128);
        int message = w.BeginMessage(TlsHandshakeType.ServerHello);
        w.WriteUInt16(TlsConstants.LegacyVersion);
        w.WriteBytes(Random);
        w.WriteVector8(LegacySessionIdEcho);
        w.WriteUInt16(CipherSuite);
        w.WriteByte(0);
        int block = w.BeginVector(2);
        if (KeyShare is { } share)
        {
            int ext = w.BeginExtension(TlsExtensionType.KeyShare);
            w.WriteUInt16(share.Group);
            w.WriteVector16(share.KeyExchange);
            w.EndExtension(ext);
        }

        if (SelectedGroup is { } group)
        {
            int ext = w.BeginExtension(TlsExtensionType.KeyShare);
            w.WriteUInt16(group);
            w.EndExtension(ext);
        }

        if (SelectedVersion is { } version)
        {
            int ext = w.BeginExtension(TlsExtensionType.SupportedVersions);
            w.WriteUInt16(version);
            w.EndExtension(ext);
        }

        if (Cookie is not null)
        {
            int ext = w.BeginExtension(TlsExtensionType.Cookie);
            w.WriteVector16(Cookie);
            w.EndExtension(ext);
        }

        if (SelectedPskIdentity is { } psk)
        {
            int ext = w.BeginExtension(TlsExtensionType.PreSharedKey);
            w.WriteUInt16(psk);
            w.EndExtension(ext);
        }

        w.EndVector(block, 2);
        w.EndMessage(message);
        return w.ToArray();
    }
}
