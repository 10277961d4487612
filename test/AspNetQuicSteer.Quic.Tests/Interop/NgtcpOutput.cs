using System.Buffers.Binary;
using System.Globalization;

namespace AspNetQuicSteer.Quic.Tests.Interop;

/// <summary>
/// What ngtcp2 0.12's gtlsclient / gtlsserver print (found by running them; see PeerSanityTests), and
/// readers for their verbose (non -q) stderr.
/// </summary>
internal static class NgtcpOutput
{
    /// <summary>stderr line (verbose mode only) when the handshake completed at this endpoint.</summary>
    public const string HandshakeCompleted = "QUIC handshake has completed";

    /// <summary>stderr line (verbose mode only) when the handshake is confirmed (client: HANDSHAKE_DONE received).</summary>
    public const string HandshakeConfirmed = "QUIC handshake has been confirmed";

    /// <summary>stderr line prefix (verbose mode only), followed by the GnuTLS cipher name, e.g. "AES-128-GCM".</summary>
    public const string NegotiatedCipherPrefix = "Negotiated cipher suite is ";

    /// <summary>stderr line prefix (verbose mode only), followed by the ALPN, e.g. "h3".</summary>
    public const string NegotiatedAlpnPrefix = "Negotiated ALPN is ";

    /// <summary>stderr line (also with -q) when the handshake timed out; the exit code is still 0.</summary>
    public const string HandshakeTimeout = "ngtcp2_conn_handle_expiry: ERR_HANDSHAKE_TIMEOUT";

    /// <summary>stderr line (also with -q) when the peer closed the connection (CONNECTION_CLOSE received).</summary>
    public const string Draining = "ngtcp2_conn_read_pkt: ERR_DRAINING";

    /// <summary>
    /// The TLS handshake bytes received at one encryption level ("Initial", "Handshake", "Application"), rebuilt
    /// from the hex dumps that follow each "Ordered CRYPTO data in LEVEL crypto level" line (verbose mode; the
    /// dumps are off with --no-quic-dump). Initial at a client holds the ServerHello (after any HelloRetryRequest);
    /// Initial at a server holds the ClientHello(s).
    /// </summary>
    public static byte[] ReceivedCryptoData(IEnumerable<string> stderrLines, string level)
    {
        ArgumentNullException.ThrowIfNull(stderrLines);
        string header = $"Ordered CRYPTO data in {level} crypto level";
        List<byte> bytes = [];
        bool inDump = false;
        foreach (string line in stderrLines)
        {
            if (line == header)
            {
                inDump = true;
                continue;
            }

            if (!inDump)
            {
                continue;
            }

            // "00000010  9c d8 79 6e 18 fc a8 fb  5b 25 8c ff 43 e3 3c bf  |..yn....[%..C.<.|" then a bare "0000005a".
            if (line.Length == 8 && IsHex(line))
            {
                inDump = false;
                continue;
            }

            if (line.Length < 12 || !IsHex(line.AsSpan(0, 8)) || line[8] != ' ' || line[9] != ' ')
            {
                throw new FormatException($"Unexpected line inside an ngtcp2 CRYPTO dump: \"{line}\"");
            }

            // Fixed layout: hex columns occupy [10, 59); the ASCII column (which may contain anything) follows.
            ReadOnlySpan<char> hex = line.AsSpan(10, Math.Min(49, line.Length - 10));
            foreach (Range token in hex.Split(' '))
            {
                ReadOnlySpan<char> pair = hex[token];
                if (!pair.IsEmpty)
                {
                    bytes.Add(byte.Parse(pair, NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                }
            }
        }

        return [.. bytes];
    }

    private static bool IsHex(ReadOnlySpan<char> text)
    {
        foreach (char c in text)
        {
            if (!char.IsAsciiHexDigit(c))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>The parts of a ClientHello / ServerHello / HelloRetryRequest interop tests look at.</summary>
internal sealed record TlsHello(
    byte HandshakeType,
    bool IsHelloRetryRequest,
    IReadOnlyList<ushort> CipherSuites,
    IReadOnlyList<ushort> SupportedGroups,
    IReadOnlyList<ushort> KeyShareGroups,
    IReadOnlyList<string> AlpnProtocols)
{
    public const byte ClientHelloType = 1;
    public const byte ServerHelloType = 2;

    private static readonly byte[] s_helloRetryRequestRandom = Convert.FromHexString(
        "CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C");

    /// <summary>Every ClientHello / ServerHello in a sequence of TLS handshake messages, in order.</summary>
    public static IReadOnlyList<TlsHello> ParseAll(ReadOnlySpan<byte> handshakeMessages)
    {
        List<TlsHello> hellos = [];
        while (handshakeMessages.Length >= 4)
        {
            byte type = handshakeMessages[0];
            int length = (handshakeMessages[1] << 16) | (handshakeMessages[2] << 8) | handshakeMessages[3];
            if (handshakeMessages.Length < 4 + length)
            {
                break; // truncated: the rest was not received (or not dumped)
            }

            ReadOnlySpan<byte> body = handshakeMessages.Slice(4, length);
            if (type is ClientHelloType or ServerHelloType)
            {
                hellos.Add(Parse(type, body));
            }

            handshakeMessages = handshakeMessages[(4 + length)..];
        }

        return hellos;
    }

    private static TlsHello Parse(byte type, ReadOnlySpan<byte> body)
    {
        Reader reader = new(body);
        reader.Skip(2); // legacy_version
        ReadOnlySpan<byte> random = reader.Take(32);
        reader.Take(reader.U8()); // legacy_session_id(_echo)
        List<ushort> suites = [];
        if (type == ClientHelloType)
        {
            Reader list = new(reader.Take(reader.U16()));
            while (!list.End)
            {
                suites.Add(list.U16());
            }

            reader.Take(reader.U8()); // legacy_compression_methods
        }
        else
        {
            suites.Add(reader.U16());
            reader.Skip(1);
        }

        bool isRetry = type == ServerHelloType && random.SequenceEqual(s_helloRetryRequestRandom);
        List<ushort> groups = [];
        List<ushort> keyShares = [];
        List<string> alpn = [];
        Reader extensions = new(reader.End ? [] : reader.Take(reader.U16()));
        while (!extensions.End)
        {
            ushort extensionType = extensions.U16();
            Reader data = new(extensions.Take(extensions.U16()));
            switch (extensionType)
            {
                case 0x000a: // supported_groups
                    Reader named = new(data.Take(data.U16()));
                    while (!named.End)
                    {
                        groups.Add(named.U16());
                    }

                    break;
                case 0x0010: // application_layer_protocol_negotiation
                    Reader names = new(data.Take(data.U16()));
                    while (!names.End)
                    {
                        alpn.Add(System.Text.Encoding.ASCII.GetString(names.Take(names.U8())));
                    }

                    break;
                case 0x0033 when type == ClientHelloType: // key_share: client_shares
                    Reader shares = new(data.Take(data.U16()));
                    while (!shares.End)
                    {
                        keyShares.Add(shares.U16());
                        shares.Take(shares.U16());
                    }

                    break;
                case 0x0033: // key_share: server_share (KeyShareEntry) or, in a HelloRetryRequest, selected_group
                    keyShares.Add(data.U16());
                    break;
                default:
                    break;
            }
        }

        return new TlsHello(type, isRetry, suites, groups, keyShares, alpn);
    }

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private ReadOnlySpan<byte> _data = data;

        public readonly bool End => _data.IsEmpty;

        public byte U8() => Take(1)[0];

        public ushort U16() => BinaryPrimitives.ReadUInt16BigEndian(Take(2));

        public void Skip(int count) => Take(count);

        public ReadOnlySpan<byte> Take(int count)
        {
            if (count > _data.Length)
            {
                throw new FormatException($"TLS hello truncated: needed {count} byte(s), {_data.Length} left.");
            }

            ReadOnlySpan<byte> taken = _data[..count];
            _data = _data[count..];
            return taken;
        }
    }
}
