using System.Globalization;
using System.Net;
using AspNetQuicSteer.Quic.Tests.Interop;

namespace AspNetQuicSteer.Client.Tests.Interop;

/// <summary>Real HTTP/3 servers for the handler: ngtcp2's gtlsserver and our quic-go h3server, on loopback.</summary>
internal static class PeerServers
{
    /// <summary>The body pattern of h3server's and the sample site's /bytes/{n}: byte i is i % 251.</summary>
    public static byte[] Pattern(int length)
    {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++) bytes[i] = (byte)(i % 251);
        return bytes;
    }

    /// <summary>
    /// gtlsserver serving <paramref name="files"/> from a temporary document root. <paramref name="retry"/> adds -V
    /// (--validate-addr): every connection goes through a Retry round trip (RFC 9000 §8.1.2).
    /// </summary>
    public static async Task<PeerProcess> StartGtlsServerAsync(TempDirectory temp, TestCertificate certificate, bool retry,
        IReadOnlyDictionary<string, byte[]> files, bool verbose = false)
    {
        string gtlsServer = InteropPeers.Require(InteropPeer.GtlsServer);
        TestCertificateFiles certificateFiles = certificate.WriteFiles(temp.Path);
        string docRoot = temp.Combine("docroot");
        Directory.CreateDirectory(docRoot);
        foreach ((string name, byte[] content) in files)
        {
            await File.WriteAllBytesAsync(Path.Combine(docRoot, name), content, TestContext.Current.CancellationToken);
        }

        int port = FreeUdpPort.GetLoopbackPort();
        List<string> arguments = verbose ? ["--no-quic-dump", "--no-http-dump"] : ["-q"];
        if (retry) arguments.Add("-V");
        arguments.AddRange(["-d", docRoot, "127.0.0.1", port.ToString(CultureInfo.InvariantCulture), certificateFiles.KeyPath, certificateFiles.CertificatePath]);
        PeerProcess server = PeerProcess.Start(gtlsServer, arguments, maxLifetime: TimeSpan.FromSeconds(90));
        server.Tag = new IPEndPoint(IPAddress.Loopback, port);
        try
        {
            await FreeUdpPort.WaitUntilBoundAsync(port, TimeSpan.FromSeconds(5), server);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        return server;
    }

    /// <summary>Our quic-go h3server (/hello, /bytes/{n}, /echo); its address is in <see cref="PeerProcess.Tag"/>.</summary>
    public static async Task<PeerProcess> StartQuicGoServerAsync(TempDirectory temp, TestCertificate certificate, params string[] extraArguments)
    {
        string h3server = InteropPeers.Require(InteropPeer.GoH3Server);
        TestCertificateFiles files = certificate.WriteFiles(temp.Path);
        PeerProcess server = PeerProcess.Start(h3server,
            ["-addr", "127.0.0.1:0", "-cert", files.CertificatePath, "-key", files.KeyPath, "-exit-after", "2m", .. extraArguments],
            maxLifetime: TimeSpan.FromSeconds(150));
        try
        {
            string line = await server.WaitForLineAsync(l => l.StartsWith("LISTENING ", StringComparison.Ordinal), TimeSpan.FromSeconds(10),
                PeerStream.StandardOutput, TestContext.Current.CancellationToken);
            server.Tag = IPEndPoint.Parse(line.Split(' ')[1]);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        return server;
    }

    public static Uri BaseUri(PeerProcess server) => new($"https://{(IPEndPoint)server.Tag!}/");
}
