using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using AspNetQuicSteer.Quic.Tests.Interop;

namespace AspNetQuicSteer.Kestrel.Tests.Hosting;

/// <summary>samples/SampleSite as a real process, the way eng/run.sh runs it.</summary>
[Collection(SequentialHostingTests.Name)]
public sealed partial class SampleSiteProcessTests
{
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    /// <summary>
    /// Standard --urls configuration moves the site (TCP and UDP) to another port; HTTPS uses the development certificate,
    /// created on the first run and reused on the second (same SPKI, printed at startup and written to devcert.spki), and
    /// APP_VERSION labels each instance. RFC 9114 §3.1: the HTTP/3 request goes to the same port over UDP.
    /// </summary>
    [Fact]
    public async Task Configured_port_serves_HTTP3_with_a_persisted_development_certificate()
    {
        using TempDirectory home = new("quicsteer-site-home-");
        string certificateDirectory = home.Combine("certs");
        int port = FreeTcpUdpPort.GetLoopbackPort();
        string[] pins = new string[2];

        for (int run = 0; run < 2; run++)
        {
            string version = string.Create(CultureInfo.InvariantCulture, $"proc-{run}");
            await using PeerProcess site = StartSite(port, certificateDirectory, version, home.Path);
            string certificateLine = await site.WaitForLineAsync(l => l.Contains("SPKI sha256 ", StringComparison.Ordinal), TimeSpan.FromSeconds(45), cancellationToken: Cancellation);
            Match match = CertificateLine().Match(certificateLine);
            Assert.True(match.Success, site.Describe());
            Assert.Equal(run == 0 ? "created" : "reused", match.Groups[1].Value);
            pins[run] = match.Groups[2].Value;
            Assert.Contains(site.Lines, l => l.Text.Contains(FormattableString.Invariant($"listening on https://127.0.0.1:{port}"), StringComparison.Ordinal));

            using TempDirectory downloads = new();
            GtlsClientOutput output = await GtlsClient.RunAsync(port, downloads.Path, "/hello");
            Assert.True(output.Status(0) == 200, output.Description + site.Describe());
            Assert.Equal($"Hello from {version} over HTTP/3\n", await File.ReadAllTextAsync(downloads.Combine("hello"), Cancellation));
        }

        Assert.Equal(pins[0], pins[1]);
        Assert.Equal(pins[0], (await File.ReadAllTextAsync(Path.Combine(certificateDirectory, "devcert.spki"), Cancellation)).Trim());
        using X509Certificate2 pem = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(Path.Combine(certificateDirectory, "devcert.pem"), Cancellation));
        Assert.Equal(pins[0], TestCertificates.ComputeSpkiPin(pem));
        Assert.True(File.Exists(Path.Combine(certificateDirectory, "devcert.key.pem")));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(certificateDirectory, "devcert.pfx")));
        }
    }

    private static PeerProcess StartSite(int port, string certificateDirectory, string version, string home)
    {
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        string site = Path.Combine(AppContext.BaseDirectory, "SampleSite.dll");
        return PeerProcess.Start(
            dotnet,
            [site, "--urls", FormattableString.Invariant($"https://127.0.0.1:{port}"), "--SampleSite:CertificateDirectory", certificateDirectory],
            new Dictionary<string, string?>
            {
                ["APP_VERSION"] = version,
                ["HOME"] = home, // never touch the real ~/.aspnetquicsteer
                ["ASPNETCORE_URLS"] = null,
                ["ASPNETCORE_HTTPS_PORTS"] = null,
                ["ASPNETCORE_HTTP_PORTS"] = null,
                ["DOTNET_NOLOGO"] = "1",
            },
            workingDirectory: home,
            maxLifetime: TimeSpan.FromSeconds(90));
    }

    [GeneratedRegex(@"Development certificate (created|reused): .* SPKI sha256 (\S+) ")]
    private static partial Regex CertificateLine();
}
