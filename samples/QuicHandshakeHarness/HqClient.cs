using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Endpoint;
using AspNetQuicSteer.Quic.Streams;
using AspNetQuicSteer.Quic.Tls;

namespace QuicHandshakeHarness;

/// <summary>
/// hq-interop client: downloads URLs from one server over a single connection, all requests concurrently (one
/// bidirectional stream each, "GET /path\r\n" then FIN), and prints <c>HQ_OK files= bytes= ms=</c> or
/// <c>HQ_FAILED reason</c>. Exit code 0 only when every response ended with FIN.
/// </summary>
internal static class HqClient
{
    public static int Run(string[] args, TextWriter log)
    {
        string? caPath = null, outDir = null, sni = null;
        bool insecure = false;
        TimeSpan timeout = TimeSpan.FromSeconds(30);
        var urls = new List<Uri>();
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--ca": caPath = Next(); break;
                case "--insecure": insecure = true; break;
                case "--sni": sni = Next(); break;
                case "--out": outDir = Next(); break;
                case "--timeout": timeout = TimeSpan.FromSeconds(double.Parse(Next(), CultureInfo.InvariantCulture)); break;
                default: urls.Add(new Uri(args[i])); break;
            }
        }

        if (urls.Count == 0 || (caPath is null && !insecure)) throw new ArgumentException("client needs URLs and --ca FILE or --insecure.");
        var server = new IPEndPoint(IPAddress.Parse(urls[0].Host), urls[0].Port);

        using X509Certificate2? ca = caPath is null ? null : X509CertificateLoader.LoadCertificateFromFile(caPath);
        var endpoint = new QuicEndpoint(new QuicEndpointOptions());
        var socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(server.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Loopback : IPAddress.IPv6Loopback, 0));
        using var driver = new UdpEndpointDriver(endpoint, socket);

        QuicConnection connection = endpoint.Connect(driver.Now, server, tp => new TlsClientHandshake(new TlsClientOptions
        {
            ServerName = sni ?? urls[0].Host,
            ApplicationProtocols = [new SslApplicationProtocol("hq-interop")],
            TransportParameters = tp,
            TrustedRootCertificates = ca is null ? null : [ca],
            CertificateValidationCallback = insecure ? (_, _, _) => true : null,
        }));

        var stopwatch = Stopwatch.StartNew();
        var downloads = new Dictionary<ulong, Download>();
        byte[] buffer = new byte[64 * 1024];
        int pendingUrl = 0;
        long bytes = 0;
        int completed = 0;

        while (stopwatch.Elapsed < timeout)
        {
            if (connection.State is QuicConnectionState.Closed or QuicConnectionState.Draining or QuicConnectionState.Closing)
            {
                log.WriteLine($"HQ_FAILED connection closed: {connection.CloseError}");
                return 1;
            }

            // RFC 9000 §4.6: open as many requests as the server's MAX_STREAMS allows; the rest follow as it raises it.
            while (pendingUrl < urls.Count && connection.TryOpenStream(bidirectional: true, out ulong id))
            {
                Uri url = urls[pendingUrl++];
                connection.WriteStream(id, Encoding.ASCII.GetBytes($"GET {url.AbsolutePath}\r\n"), fin: true);
                downloads[id] = new Download(url, outDir);
            }

            foreach ((ulong id, Download download) in downloads)
            {
                if (download.Done) continue;
                if (connection.TryGetPeerResetCode(id, out ulong code))
                {
                    log.WriteLine($"HQ_FAILED {download.Url.AbsolutePath} reset with 0x{code:x}");
                    connection.Close(driver.Now, 0, "failed");
                    driver.Flush();
                    return 1;
                }

                while (true)
                {
                    int n = connection.ReadStream(id, buffer, out bool fin);
                    download.Write(buffer.AsSpan(0, n));
                    bytes += n;
                    if (fin)
                    {
                        download.Complete();
                        completed++;
                        log.WriteLine($"FILE {download.Url.AbsolutePath} bytes={download.Length}");
                        break;
                    }

                    if (n == 0) break;
                }
            }

            while (connection.TryPollStreamEvent(out QuicStreamEvent _)) { }
            if (completed == urls.Count)
            {
                log.WriteLine($"HQ_OK files={completed} bytes={bytes} ms={stopwatch.ElapsedMilliseconds} lost={connection.Stats.PacketsLost} alpn={connection.Tls.NegotiatedApplicationProtocol} cipher={connection.Tls.CipherSuite} retry={connection.ReceivedRetry}");
                connection.Close(driver.Now, 0);
                driver.Flush();
                return 0;
            }

            driver.Flush();
            driver.WaitAndReceive();
        }

        log.WriteLine($"HQ_FAILED timeout after {timeout.TotalSeconds:0}s ({completed} of {urls.Count} files complete)");
        return 1;
    }

    private sealed class Download(Uri url, string? outDir)
    {
        private readonly FileStream? _file = outDir is null ? null : CreateFile(outDir, url);

        public Uri Url { get; } = url;

        public long Length { get; private set; }

        public bool Done { get; private set; }

        public void Write(ReadOnlySpan<byte> data)
        {
            _file?.Write(data);
            Length += data.Length;
        }

        public void Complete()
        {
            Done = true;
            _file?.Dispose();
        }

        private static FileStream CreateFile(string outDir, Uri url)
        {
            string path = Path.Combine(outDir, url.AbsolutePath.TrimStart('/'));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            return File.Create(path);
        }
    }
}
