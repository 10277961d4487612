using System.Text;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Tls.Messages;

/// <summary>ClientHello (RFC 8446 §4.1.2) with the extensions QUIC needs.</summary>
internal sealed class ClientHelloMessage
{
    public byte[] Random { get; init; } = [];

    public byte[] LegacySessionId { get; init; } = [];

    public ushort[] CipherSuites { get; init; } = [];

    /// <summary>server_name host_name (RFC 6066 §3); null when absent.</summary>
    public string? ServerName { get; init; }

    public ushort[]? SupportedGroups { get; init; }

    public ushort[]? SignatureAlgorithms { get; init; }

    public ushort[]? SignatureAlgorithmsCert { get; init; }

    public IReadOnlyList<TlsKeyShareEntry>? KeyShares { get; init; }

    public ushort[]? SupportedVersions { get; init; }

    public byte[]? PskKeyExchangeModes { get; init; }

    public IReadOnlyList<byte[]>? ApplicationProtocols { get; init; }

    /// <summary>quic_transport_parameters (RFC 9001 §8.2), opaque here.</summary>
    public byte[]? TransportParameters { get; init; }

    public bool EarlyData { get; init; }

    public byte[]? Cookie { get; init; }

    /// <summary>pre_shared_key identities (RFC 8446 §4.2.11); parsed only, for the resumption seam.</summary>
    public IReadOnlyList<TlsPskIdentity>? PskIdentities { get; init; }

    public IReadOnlyList<byte[]>? PskBinders { get; init; }

    /// <summary>Length of the binders vector (with its prefix) at the end of the message, for the binder transcript (RFC 8446 §4.2.11.2).</summary>
    public int PskBindersLength { get; init; }

    /// <summary>Parses a ClientHello body (without the 4-byte handshake header).</summary>
    public static ClientHelloMessage Decode(ReadOnlySpan<byte> body)
    {
        try
        {
            return DecodeCore(body);
        }
        catch (QuicProtocolException e)
        {
            throw TlsDecoding.DecodeError("ClientHello", e);
        }
    }

    private static ClientHelloMessage DecodeCore(ReadOnlySpan<byte> body)
    {
        QuicReader r = TlsDecoding.CreateReader(body);
        _ = r.ReadUInt16(); // legacy_version; version negotiation uses supported_versions (RFC 8446 §4.2.1).
        byte[] random = r.ReadBytes(TlsConstants.RandomLength).ToArray();
        ReadOnlySpan<byte> sessionId = r.ReadUInt8PrefixedBytes();
        if (sessionId.Length > 32)
        {
            throw TlsDecoding.DecodeError("legacy_session_id longer than 32 bytes.");
        }

        // CipherSuite cipher_suites<2..2^16-2>;
        ushort[] suites = TlsDecoding.ReadUInt16List(r.ReadUInt16PrefixedBytes(), 2, "cipher_suites");

        // RFC 8446 §4.1.2: legacy_compression_methods MUST contain exactly one byte, 0; otherwise illegal_parameter.
        ReadOnlySpan<byte> compression = r.ReadUInt8PrefixedBytes();
        if (compression.Length != 1 || compression[0] != 0)
        {
            throw new TlsAlertException(TlsAlert.IllegalParameter, "ClientHello legacy_compression_methods must be exactly [0].");
        }

        if (r.IsEmpty)
        {
            // A ClientHello without extensions is a pre-TLS-1.3 hello; the server rejects it for lack of supported_versions.
            return new ClientHelloMessage { Random = random, LegacySessionId = sessionId.ToArray(), CipherSuites = suites };
        }

        ReadOnlySpan<byte> block = r.ReadUInt16PrefixedBytes();
        TlsDecoding.EnsureEnd(r, "ClientHello");
        return DecodeExtensions(block, random, sessionId.ToArray(), suites);
    }

    private static ClientHelloMessage DecodeExtensions(ReadOnlySpan<byte> block, byte[] random, byte[] sessionId, ushort[] suites)
    {
        string? serverName = null;
        ushort[]? groups = null, sigAlgs = null, sigAlgsCert = null, versions = null;
        List<TlsKeyShareEntry>? keyShares = null;
        byte[]? pskModes = null, transportParameters = null, cookie = null;
        List<byte[]>? alpn = null;
        bool earlyData = false;
        List<TlsPskIdentity>? pskIdentities = null;
        List<byte[]>? pskBinders = null;
        int bindersLength = 0;

        TlsExtensionReader extensions = new(block);
        while (extensions.MoveNext(out ushort type, out ReadOnlySpan<byte> data))
        {
            switch ((TlsExtensionType)type)
            {
                case TlsExtensionType.ServerName:
                    serverName = DecodeServerName(data);
                    break;
                case TlsExtensionType.SupportedGroups:
                    groups = ReadPrefixedUInt16List(data, "supported_groups");
                    break;
                case TlsExtensionType.SignatureAlgorithms:
                    sigAlgs = ReadPrefixedUInt16List(data, "signature_algorithms");
                    break;
                case TlsExtensionType.SignatureAlgorithmsCert:
                    sigAlgsCert = ReadPrefixedUInt16List(data, "signature_algorithms_cert");
                    break;
                case TlsExtensionType.KeyShare:
                    keyShares = DecodeKeyShares(data);
                    break;
                case TlsExtensionType.SupportedVersions:
                    versions = DecodeSupportedVersions(data);
                    break;
                case TlsExtensionType.PskKeyExchangeModes:
                    pskModes = DecodeVector8(data, 1, "psk_key_exchange_modes");
                    break;
                case TlsExtensionType.ApplicationLayerProtocolNegotiation:
                    alpn = TlsAlpn.DecodeProtocolNameList(data);
                    break;
                case TlsExtensionType.QuicTransportParameters:
                    transportParameters = data.ToArray();
                    break;
                case TlsExtensionType.EarlyData:
                    // RFC 8446 §4.2.10: the ClientHello early_data extension_data is empty.
                    if (!data.IsEmpty)
                    {
                        throw TlsDecoding.DecodeError("early_data in ClientHello must be empty.");
                    }

                    earlyData = true;
                    break;
                case TlsExtensionType.Cookie:
                    cookie = DecodeVector16(data, 1, "cookie");
                    break;
                case TlsExtensionType.PreSharedKey:
                    // RFC 8446 §4.2.11: pre_shared_key MUST be the last extension; otherwise illegal_parameter.
                    if (!extensions.IsEmpty)
                    {
                        throw new TlsAlertException(TlsAlert.IllegalParameter, "pre_shared_key is not the last ClientHello extension.");
                    }

                    (pskIdentities, pskBinders, bindersLength) = DecodeOfferedPsks(data);
                    break;
                default:
                    // RFC 8446 §4.1.2 / RFC 8701: unknown (including GREASE) extensions are ignored.
                    break;
            }
        }

        return new ClientHelloMessage
        {
            Random = random,
            LegacySessionId = sessionId,
            CipherSuites = suites,
            ServerName = serverName,
            SupportedGroups = groups,
            SignatureAlgorithms = sigAlgs,
            SignatureAlgorithmsCert = sigAlgsCert,
            KeyShares = keyShares,
            SupportedVersions = versions,
            PskKeyExchangeModes = pskModes,
            ApplicationProtocols = alpn,
            TransportParameters = transportParameters,
            EarlyData = earlyData,
            Cookie = cookie,
            PskIdentities = pskIdentities,
            PskBinders = pskBinders,
            PskBindersLength = bindersLength,
        };
    }

    /// <summary>RFC 6066 §3: ServerNameList server_name_list&lt;1..2^16-1&gt;, entries { NameType name_type; HostName&lt;1..2^16-1&gt; }.</summary>
    private static string? DecodeServerName(ReadOnlySpan<byte> data)
    {
        QuicReader r = TlsDecoding.CreateReader(data);
        QuicReader list = TlsDecoding.CreateReader(r.ReadUInt16PrefixedBytes());
        TlsDecoding.EnsureEnd(r, "server_name");
        if (list.IsEmpty)
        {
            throw TlsDecoding.DecodeError("server_name list is empty.");
        }

        string? hostName = null;
        while (!list.IsEmpty)
        {
            byte nameType = list.ReadByte();
            ReadOnlySpan<byte> name = list.ReadUInt16PrefixedBytes();
            if (nameType != 0)
            {
                continue; // unknown NameType: ignored.
            }

            // RFC 6066 §3: at most one name of a given type → illegal_parameter; the name is ASCII without a trailing dot.
            if (hostName is not null)
            {
                throw new TlsAlertException(TlsAlert.IllegalParameter, "server_name contains more than one host_name.");
            }

            if (name.IsEmpty || name[^1] == (byte)'.' || name.IndexOfAnyExceptInRange((byte)0x21, (byte)0x7E) >= 0)
            {
                throw new TlsAlertException(TlsAlert.IllegalParameter, "server_name host_name is not a valid DNS name.");
            }

            hostName = Encoding.ASCII.GetString(name);
        }

        return hostName;
    }

    private static List<TlsKeyShareEntry> DecodeKeyShares(ReadOnlySpan<byte> data)
    {
        QuicReader r = TlsDecoding.CreateReader(data);
        QuicReader list = TlsDecoding.CreateReader(r.ReadUInt16PrefixedBytes());
        TlsDecoding.EnsureEnd(r, "key_share");
        List<TlsKeyShareEntry> shares = [];
        while (!list.IsEmpty)
        {
            ushort group = list.ReadUInt16();
            ReadOnlySpan<byte> key = list.ReadUInt16PrefixedBytes();
            if (key.IsEmpty)
            {
                throw TlsDecoding.DecodeError("key_share entry with empty key_exchange.");
            }

            // RFC 8446 §4.2.8: clients MUST NOT offer multiple KeyShareEntry values for the same group (illegal_parameter).
            foreach (TlsKeyShareEntry existing in shares)
            {
                if (existing.Group == group)
                {
                    throw new TlsAlertException(TlsAlert.IllegalParameter, $"Duplicate key_share for group 0x{group:x4}.");
                }
            }

            shares.Add(new TlsKeyShareEntry(group, key.ToArray()));
        }

        return shares;
    }

    /// <summary>RFC 8446 §4.2.1: ProtocolVersion versions&lt;2..254&gt; in ClientHello.</summary>
    private static ushort[] DecodeSupportedVersions(ReadOnlySpan<byte> data)
    {
        QuicReader r = TlsDecoding.CreateReader(data);
        ReadOnlySpan<byte> list = r.ReadUInt8PrefixedBytes();
        TlsDecoding.EnsureEnd(r, "supported_versions");
        return TlsDecoding.ReadUInt16List(list, 2, "supported_versions");
    }

    /// <summary>RFC 8446 §4.2.11: OfferedPsks { PskIdentity identities&lt;7..2^16-1&gt;; PskBinderEntry binders&lt;33..2^16-1&gt;; }.</summary>
    private static (List<TlsPskIdentity> Identities, List<byte[]> Binders, int BindersLength) DecodeOfferedPsks(ReadOnlySpan<byte> data)
    {
        QuicReader r = TlsDecoding.CreateReader(data);
        QuicReader ids = TlsDecoding.CreateReader(r.ReadUInt16PrefixedBytes());
        int bindersStart = r.Position;
        QuicReader binders = TlsDecoding.CreateReader(r.ReadUInt16PrefixedBytes());
        int bindersLength = r.Position - bindersStart;
        TlsDecoding.EnsureEnd(r, "pre_shared_key");

        List<TlsPskIdentity> identities = [];
        while (!ids.IsEmpty)
        {
            ReadOnlySpan<byte> identity = ids.ReadUInt16PrefixedBytes();
            if (identity.IsEmpty)
            {
                throw TlsDecoding.DecodeError("Empty PSK identity.");
            }

            identities.Add(new TlsPskIdentity(identity.ToArray(), ids.ReadUInt32()));
        }

        List<byte[]> binderList = [];
        while (!binders.IsEmpty)
        {
            ReadOnlySpan<byte> binder = binders.ReadUInt8PrefixedBytes();
            if (binder.Length < 32)
            {
                throw TlsDecoding.DecodeError("PSK binder shorter than 32 bytes.");
            }

            binderList.Add(binder.ToArray());
        }

        // RFC 8446 §4.2.11: one binder per identity, and at least one of each.
        if (identities.Count == 0 || identities.Count != binderList.Count)
        {
            throw new TlsAlertException(TlsAlert.IllegalParameter, "pre_shared_key identities and binders do not match.");
        }

        return (identities, binderList, bindersLength);
    }

    private static ushort[] ReadPrefixedUInt16List(ReadOnlySpan<byte> data, string what)
    {
        QuicReader r = TlsDecoding.CreateReader(data);
        ReadOnlySpan<byte> list = r.ReadUInt16PrefixedBytes();
        TlsDecoding.EnsureEnd(r, what);
        return TlsDecoding.ReadUInt16List(list, 2, what);
    }

    private static byte[] DecodeVector8(ReadOnlySpan<byte> data, int min, string what)
    {
        QuicReader r = TlsDecoding.CreateReader(data);
        ReadOnlySpan<byte> v = r.ReadUInt8PrefixedBytes();
        TlsDecoding.EnsureEnd(r, what);
        return v.Length < min ? throw TlsDecoding.DecodeError($"{what} is too short.") : v.ToArray();
    }

    private static byte[] DecodeVector16(ReadOnlySpan<byte> data, int min, string what)
    {
        QuicReader r = TlsDecoding.CreateReader(data);
        ReadOnlySpan<byte> v = r.ReadUInt16PrefixedBytes();
        TlsDecoding.EnsureEnd(r, what);
        return v.Length < min ? throw TlsDecoding.DecodeError($"{what} is too short.") : v.ToArray();
    }

    /// <summary>Encodes the full handshake message (with header). Extension order is fixed; pre_shared_key is never sent yet.</summary>
    public byte[] Encode()
    {
        TlsBufferWriter w = new(512);
        int message = w.BeginMessage(TlsHandshakeType.ClientHello);
        w.WriteUInt16(TlsConstants.LegacyVersion);
        w.WriteBytes(Random);
        w.WriteVector8(LegacySessionId);
        int suites = w.BeginVector(2);
        foreach (ushort s in CipherSuites)
        {
            w.WriteUInt16(s);
        }

        w.EndVector(suites, 2);
        w.WriteVector8([0]);

        int block = w.BeginVector(2);
        if (ServerName is not null)
        {
            int ext = w.BeginExtension(TlsExtensionType.ServerName);
            int list = w.BeginVector(2);
            w.WriteByte(0); // host_name
            w.WriteVector16(Encoding.ASCII.GetBytes(ServerName));
            w.EndVector(list, 2);
            w.EndExtension(ext);
        }

        WriteUInt16ListExtension(w, TlsExtensionType.SupportedGroups, SupportedGroups, 2);
        WriteUInt16ListExtension(w, TlsExtensionType.SignatureAlgorithms, SignatureAlgorithms, 2);
        WriteUInt16ListExtension(w, TlsExtensionType.SignatureAlgorithmsCert, SignatureAlgorithmsCert, 2);
        if (KeyShares is not null)
        {
            int ext = w.BeginExtension(TlsExtensionType.KeyShare);
            int list = w.BeginVector(2);
            foreach (TlsKeyShareEntry share in KeyShares)
            {
                w.WriteUInt16(share.Group);
                w.WriteVector16(share.KeyExchange);
            }

            w.EndVector(list, 2);
            w.EndExtension(ext);
        }

        WriteUInt16ListExtension(w, TlsExtensionType.SupportedVersions, SupportedVersions, 1);
        if (PskKeyExchangeModes is not null)
        {
            int ext = w.BeginExtension(TlsExtensionType.PskKeyExchangeModes);
            w.WriteVector8(PskKeyExchangeModes);
            w.EndExtension(ext);
        }

        if (ApplicationProtocols is not null)
        {
            int ext = w.BeginExtension(TlsExtensionType.ApplicationLayerProtocolNegotiation);
            TlsAlpn.EncodeProtocolNameList(w, ApplicationProtocols);
            w.EndExtension(ext);
        }

        if (Cookie is not null)
        {
            int ext = w.BeginExtension(TlsExtensionType.Cookie);
            w.WriteVector16(Cookie);
            w.EndExtension(ext);
        }

        if (EarlyData)
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

    private static void WriteUInt16ListExtension(TlsBufferWriter w, TlsExtensionType type, ushort[]? values, int prefixLength)
    {
        if (values is null)
        {
            return;
        }

        int ext = w.BeginExtension(type);
        int list = w.BeginVector(prefixLength);
        foreach (ushort v in values)
        {
            w.WriteUInt16(v);
        }

        w.EndVector(list, prefixLength);
        w.EndExtension(ext);
    }
}
