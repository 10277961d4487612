using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Endpoint;
using AspNetQuicSteer.Quic.Tls;
using AspNetQuicSteer.Quic.Wire;
using AspNetQuicSteer.Sockets;

namespace AspNetQuicSteer.Kestrel.Tests.Transport;

/// <summary>
/// A deliberately small HTTP/3 client on our own QUIC client over a real UDP socket, for transport tests that need
/// control real clients don't give (client certificates, SNI, a chosen ALPN). It speaks just enough RFC 9114: a
/// control stream with an empty SETTINGS frame (§6.2.1, §7.2.4), one request per bidirectional stream whose HEADERS
/// use only QPACK static-table references and literals (RFC 9204 §4.5, no dynamic table), DATA frames (§7.2.1).
/// </summary>
internal sealed class MinimalHttp3Client : IAsyncDisposable
{
    private readonly QuicEndpointDriver _driver;
    private QuicConnection? _connection;

    private MinimalHttp3Client(QuicEndpointDriver driver) => _driver = driver;

    public QuicConnection Connection => _connection ?? throw new InvalidOperationException("Not connected.");

    public static async Task<MinimalHttp3Client> ConnectAsync(IPEndPoint server, string? serverName, X509Certificate2? clientCertificate = null,
        string alpn = "h3", TimeSpan? timeout = null)
    {
        var socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(server.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback, 0));
        var driver = new QuicEndpointDriver(new BatchedUdpSocket(socket), new QuicEndpoint(new QuicEndpointOptions()));
        driver.Start();
        var client = new MinimalHttp3Client(driver);
        client._connection = await driver.InvokeAsync(() => driver.Endpoint.Connect(driver.Now, server, tp => new TlsClientHandshake(new TlsClientOptions
        {
            ServerName = serverName,
            ApplicationProtocols = [new SslApplicationProtocol(alpn)],
            TransportParameters = tp,
            CertificateValidationCallback = static (_, _, _) => true, // the tests check the server certificate themselves
            ClientCertificate = clientCertificate,
        })));

        DateTime deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            (bool done, QuicConnectionError? error) = await driver.InvokeAsync(() => (client.Connection.IsHandshakeComplete, client.Connection.CloseError));
            if (error is not null) throw new QuicClosedException(error);
            if (done) break;
            if (DateTime.UtcNow > deadline) throw new TimeoutException("The QUIC handshake did not complete.");
            await Task.Delay(2);
        }

        await driver.InvokeAsync(() =>
        {
            // RFC 9114 §6.2.1: each side opens a control stream whose first frame is SETTINGS.
            if (!client.Connection.TryOpenStream(bidirectional: false, out ulong control)) throw new InvalidOperationException("No unidirectional stream credit.");
            client.Connection.WriteStream(control, [0x00, 0x04, 0x00], fin: false);
            return true;
        });
        return client;
    }

    /// <summary>The server certificate the handshake presented.</summary>
    public Task<X509Certificate2?> GetServerCertificateAsync() => _driver.InvokeAsync(() => Connection.Tls.PeerCertificate);

    public async Task<Http3Response> SendAsync(string method, string authority, string path, byte[]? body = null, TimeSpan? timeout = null)
    {
        byte[] request = EncodeRequest(method, authority, path, body);
        ulong stream = await _driver.InvokeAsync(() =>
        {
            if (!Connection.TryOpenStream(bidirectional: true, out ulong id)) throw new InvalidOperationException("No bidirectional stream credit.");
            return id;
        });

        int offset = 0;
        var received = new MemoryStream();
        DateTime deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (true)
        {
            (bool finished, ulong? reset, QuicConnectionError? error) = await _driver.InvokeAsync(() =>
            {
                if (offset < request.Length) offset += Connection.WriteStream(stream, request.AsSpan(offset), fin: true);
                while (Connection.TryPollStreamEvent(out _)) { }
                while (Connection.TryPollEvent(out _)) { }
                if (Connection.TryGetPeerResetCode(stream, out ulong resetCode)) return (true, resetCode, Connection.CloseError);
                Span<byte> buffer = stackalloc byte[16 * 1024];
                while (true)
                {
                    int read = Connection.ReadStream(stream, buffer, out bool fin);
                    received.Write(buffer[..read]);
                    if (fin) return (true, (ulong?)null, Connection.CloseError);
                    if (read == 0) return (false, (ulong?)null, Connection.CloseError);
                }
            });
            if (reset is { } code) throw new Http3StreamResetException(code);
            if (finished) return Http3Response.Parse(received.ToArray());
            if (error is not null) throw new QuicClosedException(error);
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"No complete response after {received.Length} bytes.");
            await Task.Delay(1);
        }
    }

    /// <summary>Runs <paramref name="work"/> on the client's loop thread (stream-level tests drive the connection directly).</summary>
    public Task<T> InvokeAsync<T>(Func<QuicConnection, T> work) => _driver.InvokeAsync(() => work(Connection));

    /// <summary>The request bytes for a HEADERS frame (and optional DATA) as <see cref="SendAsync"/> writes them.</summary>
    public static byte[] EncodeRequestBytes(string method, string authority, string path, byte[]? body = null) => EncodeRequest(method, authority, path, body);

    /// <summary>A DATA frame header for a payload of <paramref name="length"/> bytes (RFC 9114 §7.2.1).</summary>
    public static byte[] DataFrameHeader(long length)
    {
        var header = new List<byte>();
        Span<byte> varint = stackalloc byte[8];
        QuicVarInt.TryWrite(varint, 0x00, out int written);
        header.AddRange(varint[..written]);
        QuicVarInt.TryWrite(varint, (ulong)length, out written);
        header.AddRange(varint[..written]);
        return [.. header];
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _driver.InvokeAsync(() =>
            {
                _connection?.Close(_driver.Now, 0x100); // H3_NO_ERROR
                return true;
            });
            await Task.Delay(20);
        }
        catch (TaskCanceledException)
        {
        }

        _driver.Dispose();
    }

    private static byte[] EncodeRequest(string method, string authority, string path, byte[]? body)
    {
        var fields = new List<byte> { 0x00, 0x00 }; // RFC 9204 §4.5.1: Required Insert Count 0, Base 0
        fields.Add(method switch
        {
            "GET" => 0xC0 | 17, // static index 17 ":method GET" (RFC 9204 Appendix A), §4.5.2 indexed field line
            "POST" => 0xC0 | 20,
            _ => throw new ArgumentException("GET or POST.", nameof(method)),
        });
        fields.Add(0xC0 | 23); // ":scheme https"
        AddLiteralWithStaticName(fields, 0, authority); // ":authority"
        AddLiteralWithStaticName(fields, 1, path); // ":path"

        var frames = new List<byte>();
        AddFrame(frames, 0x01, [.. fields]); // HEADERS (RFC 9114 §7.2.2)
        if (body is { Length: > 0 }) AddFrame(frames, 0x00, body); // DATA (§7.2.1)
        return [.. frames];
    }

    /// <summary>RFC 9204 §4.5.4: literal field line with a static name reference (01NT, 4-bit index), value without Huffman.</summary>
    private static void AddLiteralWithStaticName(List<byte> fields, int index, string value)
    {
        fields.Add((byte)(0x50 | index));
        byte[] bytes = Encoding.ASCII.GetBytes(value);
        if (bytes.Length >= 127) throw new ArgumentException("Values up to 126 bytes.", nameof(value));
        fields.Add((byte)bytes.Length);
        fields.AddRange(bytes);
    }

    private static void AddFrame(List<byte> output, ulong type, byte[] payload)
    {
        Span<byte> varint = stackalloc byte[8];
        QuicVarInt.TryWrite(varint, type, out int written);
        output.AddRange(varint[..written]);
        QuicVarInt.TryWrite(varint, (ulong)payload.Length, out written);
        output.AddRange(varint[..written]);
        output.AddRange(payload);
    }
}

internal sealed class QuicClosedException(QuicConnectionError error) : Exception($"The connection closed: {error}")
{
    public QuicConnectionError Error { get; } = error;
}

internal sealed class Http3StreamResetException(ulong code) : Exception($"The stream was reset with 0x{code:x}.")
{
    public ulong Code { get; } = code;
}

/// <summary>A response: the status from the first HEADERS frame (static-table or literal :status) and the DATA payload.</summary>
internal sealed record Http3Response(int Status, byte[] Body)
{
    public string BodyText => Encoding.UTF8.GetString(Body);

    public static Http3Response Parse(byte[] stream)
    {
        int status = 0;
        var body = new MemoryStream();
        var reader = new QuicReader(stream);
        while (reader.Remaining > 0)
        {
            ulong type = reader.ReadVarInt();
            int length = (int)reader.ReadVarInt();
            ReadOnlySpan<byte> payload = reader.ReadBytes(length);
            if (type == 0x01 && status == 0) status = ParseStatus(payload);
            else if (type == 0x00) body.Write(payload);
        }

        return new Http3Response(status, body.ToArray());
    }

    /// <summary>RFC 9204 Appendix A: the static table's :status entries.</summary>
    private static readonly Dictionary<int, int> s_staticStatus = new()
    {
        [24] = 103, [25] = 200, [26] = 304, [27] = 404, [28] = 503, [63] = 100, [64] = 204, [65] = 206,
        [66] = 302, [67] = 400, [68] = 403, [69] = 421, [70] = 425, [71] = 500,
    };

    private static int ParseStatus(ReadOnlySpan<byte> fields)
    {
        // The two prefix bytes say no dynamic table is referenced; the first field line is :status (RFC 9114 §4.3).
        int pos = 2;
        byte first = fields[pos];
        if ((first & 0xC0) == 0xC0)
        {
            // §4.5.2 indexed field line, static, 6-bit prefix integer.
            int index = ReadPrefixInt(fields, ref pos, 6);
            return s_staticStatus[index];
        }

        if ((first & 0xD0) == 0x50)
        {
            // §4.5.4 literal with static name reference, 4-bit prefix index; value: 7-bit length, no Huffman expected.
            _ = ReadPrefixInt(fields, ref pos, 4);
            bool huffman = (fields[pos] & 0x80) != 0;
            int length = ReadPrefixInt(fields, ref pos, 7);
            if (huffman) throw new InvalidDataException("Huffman-coded :status is not supported by this test client.");
            return int.Parse(Encoding.ASCII.GetString(fields.Slice(pos, length)), System.Globalization.CultureInfo.InvariantCulture);
        }

        throw new InvalidDataException($"Unsupported :status encoding 0x{first:x2}.");
    }

    /// <summary>RFC 7541 §5.1 prefix integer, as QPACK uses it.</summary>
    private static int ReadPrefixInt(ReadOnlySpan<byte> data, ref int pos, int prefixBits)
    {
        int max = (1 << prefixBits) - 1;
        int value = data[pos++] & max;
        if (value < max) return value;
        int shift = 0;
        while (true)
        {
            byte b = data[pos++];
            value += (b & 0x7F) << shift;
            if ((b & 0x80) == 0) return value;
            shift += 7;
        }
    }
}
