using System.Globalization;
using System.Text.RegularExpressions;
using AspNetQuicSteer.Quic.Tests.Interop;

namespace AspNetQuicSteer.Kestrel.Tests.Hosting;

/// <summary>
/// Runs ngtcp2's gtlsclient (an HTTP/3 client nobody here wrote) against a local Kestrel. Verbose mode: everything
/// lands on stderr, which <see cref="GtlsClientOutput"/> reads. Bodies are saved with --download (file name = last path
/// segment). gtlsclient never verifies the server certificate.
/// </summary>
internal static class GtlsClient
{
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromSeconds(45);

    /// <summary>
    /// Starts gtlsclient requesting <paramref name="paths"/> over one connection. With
    /// <paramref name="exitWhenDone"/> it closes the connection (CONNECTION_CLOSE, H3_NO_ERROR) once every stream
    /// closed; without it the connection stays open and idle until the server closes it or the process is killed.
    /// </summary>
    public static PeerProcess Start(
        int port, IEnumerable<string> paths, string downloadDirectory, bool exitWhenDone = true,
        IEnumerable<string>? extraArguments = null, TimeSpan? maxLifetime = null)
    {
        string executable = InteropPeers.Require(InteropPeer.GtlsClient);
        string authority = string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{port}");
        List<string> arguments = [$"--download={downloadDirectory}", "--no-http-dump", "--timeout=30s"];
        if (exitWhenDone) arguments.Add("--exit-on-all-streams-close");
        arguments.AddRange(extraArguments ?? []);
        arguments.Add("127.0.0.1");
        arguments.Add(port.ToString(CultureInfo.InvariantCulture));
        arguments.AddRange(paths.Select(p => $"https://{authority}{p}"));
        return PeerProcess.Start(executable, arguments, maxLifetime: maxLifetime ?? DefaultLifetime);
    }

    /// <summary>Requests <paramref name="paths"/>, waits for gtlsclient to exit, and returns what it saw.</summary>
    public static async Task<GtlsClientOutput> RunAsync(int port, string downloadDirectory, params string[] paths)
    {
        await using PeerProcess client = Start(port, paths, downloadDirectory);
        await client.WaitForExitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        return new GtlsClientOutput(client.StandardErrorLines, client.Describe());
    }

    /// <summary>The stderr line gtlsclient prints when response headers begin on a stream.</summary>
    public static string ResponseHeadersStarted(long streamId)
        => string.Create(CultureInfo.InvariantCulture, $"http: stream 0x{streamId:x} response headers started");
}

/// <summary>One HTTP/3 frame (RFC 9114 §7.1) read from a stream's bytes, with where it arrived in the log.</summary>
internal sealed record Http3Frame(long Type, byte[] Payload, int LineIndex)
{
    /// <summary>GOAWAY frame type (RFC 9114 §7.2.6).</summary>
    public const long GoAwayType = 0x07;

    /// <summary>SETTINGS frame type (RFC 9114 §7.2.4).</summary>
    public const long SettingsType = 0x04;

    /// <summary>The stream (or push) ID a GOAWAY carries.</summary>
    public long GoAwayId => Type == GoAwayType ? QuicVarint.Read(Payload, 0, out _) : throw new InvalidOperationException("Not a GOAWAY frame.");

    public override string ToString() => Type == GoAwayType
        ? FormattableString.Invariant($"GOAWAY({GoAwayId})")
        : FormattableString.Invariant($"frame 0x{Type:x} ({Payload.Length} bytes)");
}

/// <summary>What gtlsclient 0.12 logged in verbose mode: response headers, stream closes, and received stream bytes.</summary>
internal sealed partial class GtlsClientOutput
{
    private readonly List<string> _lines;
    private readonly Dictionary<long, List<(int LineIndex, byte[] Data)>> _streamData = [];

    public GtlsClientOutput(IReadOnlyList<string> stderrLines, string description)
    {
        _lines = [.. stderrLines];
        Description = description;
        ParseStreamData();
    }

    /// <summary>The process description (command line, exit state, last lines) for assertion messages.</summary>
    public string Description { get; }

    public IReadOnlyList<string> Lines => _lines;

    /// <summary>Response header fields of a request stream, in order (pseudo-headers included).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ResponseHeaders(long streamId)
    {
        List<KeyValuePair<string, string>> headers = [];
        foreach (string line in _lines)
        {
            Match match = HeaderLine().Match(line);
            if (match.Success && ParseHex(match.Groups[1].Value) == streamId)
            {
                headers.Add(new(match.Groups[2].Value, match.Groups[3].Value));
            }
        }

        return headers;
    }

    public string? Header(long streamId, string name)
        => ResponseHeaders(streamId).Where(h => h.Key == name).Select(h => h.Value).FirstOrDefault();

    /// <summary>The :status of a request stream, or null when no response headers arrived.</summary>
    public int? Status(long streamId)
        => Header(streamId, ":status") is { } status ? int.Parse(status, CultureInfo.InvariantCulture) : null;

    /// <summary>Index of the line "HTTP stream N closed with error code C" for a stream, or -1.</summary>
    public int StreamClosedLineIndex(long streamId, out long errorCode)
    {
        for (int i = 0; i < _lines.Count; i++)
        {
            Match match = StreamClosedLine().Match(_lines[i]);
            if (match.Success && long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) == streamId)
            {
                errorCode = long.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);
                return i;
            }
        }

        errorCode = -1;
        return -1;
    }

    /// <summary>
    /// The frames of the server's control stream: the server-initiated unidirectional stream (ID ≡ 3 mod 4) whose
    /// first byte is stream type 0x00 (RFC 9114 §6.2.1). Empty when none was received.
    /// </summary>
    public IReadOnlyList<Http3Frame> ServerControlStreamFrames()
    {
        foreach ((long streamId, List<(int LineIndex, byte[] Data)> chunks) in _streamData)
        {
            if ((streamId & 0x3) != 0x3) continue;
            byte[] bytes = [.. chunks.SelectMany(c => c.Data)];
            if (bytes.Length == 0 || QuicVarint.Read(bytes, 0, out int offset) != 0x00) continue;

            List<Http3Frame> frames = [];
            while (offset < bytes.Length)
            {
                int frameStart = offset;
                long type = QuicVarint.Read(bytes, offset, out offset);
                long length = QuicVarint.Read(bytes, offset, out offset);
                if (offset + length > bytes.Length) break; // the rest did not arrive before the log ended
                frames.Add(new Http3Frame(type, bytes.AsSpan(offset, (int)length).ToArray(), LineIndexOf(chunks, frameStart)));
                offset += (int)length;
            }

            return frames;
        }

        return [];
    }

    /// <summary>
    /// Values of the server's transport parameters as gtlsclient logged them, e.g. "initial_max_streams_bidi"
    /// (RFC 9000 §18.2).
    /// </summary>
    public string? RemoteTransportParameter(string name)
    {
        string marker = $"cry remote transport_parameters {name}=";
        foreach (string line in _lines)
        {
            int at = line.IndexOf(marker, StringComparison.Ordinal);
            if (at >= 0) return line[(at + marker.Length)..];
        }

        return null;
    }

    private static int LineIndexOf(List<(int LineIndex, byte[] Data)> chunks, int offset)
    {
        int start = 0;
        foreach ((int lineIndex, byte[] data) in chunks)
        {
            if (offset < start + data.Length) return lineIndex;
            start += data.Length;
        }

        return chunks[^1].LineIndex;
    }

    private void ParseStreamData()
    {
        // "Ordered STREAM data stream_id=0x3", then hexdump lines "00000000  00 04 05 ...  |....|", then a bare offset.
        for (int i = 0; i < _lines.Count; i++)
        {
            Match header = StreamDataHeader().Match(_lines[i]);
            if (!header.Success) continue;
            long streamId = ParseHex(header.Groups[1].Value);
            int headerIndex = i;
            List<byte> bytes = [];
            for (i++; i < _lines.Count; i++)
            {
                string line = _lines[i];
                if (line.Length == 8 && IsHex(line)) break;
                if (line.Length < 12 || !IsHex(line.AsSpan(0, 8)) || line[8] != ' ') { i--; break; }
                ReadOnlySpan<char> hex = line.AsSpan(10, Math.Min(49, line.Length - 10));
                foreach (Range token in hex.Split(' '))
                {
                    if (!hex[token].IsEmpty) bytes.Add(byte.Parse(hex[token], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                }
            }

            if (!_streamData.TryGetValue(streamId, out List<(int, byte[])>? chunks)) _streamData[streamId] = chunks = [];
            chunks.Add((headerIndex, [.. bytes]));
        }
    }

    private static long ParseHex(string text) => long.Parse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    private static bool IsHex(ReadOnlySpan<char> text)
    {
        foreach (char c in text)
        {
            if (!char.IsAsciiHexDigit(c)) return false;
        }

        return true;
    }

    [GeneratedRegex(@"^http: stream 0x([0-9a-f]+) \[(:?[^:]+): (.*)\]$")]
    private static partial Regex HeaderLine();

    [GeneratedRegex(@"^HTTP stream (\d+) closed with error code (\d+)$")]
    private static partial Regex StreamClosedLine();

    [GeneratedRegex(@"^Ordered STREAM data stream_id=0x([0-9a-f]+)$")]
    private static partial Regex StreamDataHeader();
}

/// <summary>QUIC variable-length integers (RFC 9000 §16), as HTTP/3 frames use them.</summary>
internal static class QuicVarint
{
    public static long Read(ReadOnlySpan<byte> data, int offset, out int next)
    {
        int length = 1 << (data[offset] >> 6);
        long value = data[offset] & 0x3f;
        for (int i = 1; i < length; i++) value = (value << 8) | data[offset + i];
        next = offset + length;
        return value;
    }
}
