using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace AspNetQuicSteer.Quic.Tests.Interop;

/// <summary>Tests of the interop helpers themselves (no QUIC peer needed except openssl for a cross-check).</summary>
[Trait("Category", "Interop")]
public sealed class InteropHelperTests
{
    [Fact]
    public async Task PeerProcess_CapturesBothStreams_AndAwaitsLines()
    {
        await using PeerProcess process = PeerProcess.Start(
            "/bin/sh",
            ["-c", "echo one; echo two >&2; sleep 0.2; echo \"$GREETING\"; exit 3"],
            new Dictionary<string, string?> { ["GREETING"] = "hello there" });

        string line = await process.WaitForLineAsync(l => l.StartsWith("hello", StringComparison.Ordinal), TimeSpan.FromSeconds(5), cancellationToken: TestContext.Current.CancellationToken);
        int exitCode = await process.WaitForExitAsync(TimeSpan.FromSeconds(5), cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("hello there", line);
        Assert.Equal(3, exitCode);
        Assert.Equal(3, process.ExitCode);
        Assert.Equal(["one", "hello there"], process.StandardOutputLines);
        Assert.Equal(["two"], process.StandardErrorLines);
        Assert.Contains("out| one", process.Output, StringComparison.Ordinal);
        Assert.Contains("err| two", process.Output, StringComparison.Ordinal);
        Assert.Equal("two", await process.WaitForLineAsync(l => l == "two", TimeSpan.Zero, PeerStream.StandardError, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task PeerProcess_WaitForLine_FailsWhenOutputEndsWithoutMatch()
    {
        await using PeerProcess process = PeerProcess.Start("/bin/sh", ["-c", "echo nothing-here"]);

        InvalidOperationException error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => process.WaitForLineAsync(l => l == "never", TimeSpan.FromSeconds(5), cancellationToken: TestContext.Current.CancellationToken));
        Assert.Contains("nothing-here", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PeerProcess_WaitForExit_KillsTheWholeTreeOnTimeout()
    {
        await using PeerProcess process = PeerProcess.Start("/bin/sh", ["-c", "sleep 30 & echo child=$!; wait"]);
        string childLine = await process.WaitForLineAsync(l => l.StartsWith("child=", StringComparison.Ordinal), TimeSpan.FromSeconds(5), cancellationToken: TestContext.Current.CancellationToken);
        int child = int.Parse(childLine["child=".Length..], System.Globalization.CultureInfo.InvariantCulture);

        TimeoutException error = await Assert.ThrowsAsync<TimeoutException>(() => process.WaitForExitAsync(TimeSpan.FromMilliseconds(300), TestContext.Current.CancellationToken));

        Assert.Contains("was killed", error.Message, StringComparison.Ordinal);
        Assert.True(await WaitUntilGoneAsync(child), $"child process {child} survived the kill");
        Assert.True(await WaitUntilGoneAsync(process.ProcessId), "the process survived the kill");
    }

    [Fact]
    public async Task PeerProcess_IsKilledAtItsLifetimeBound()
    {
        await using PeerProcess process = PeerProcess.Start("/bin/sh", ["-c", "sleep 30"], maxLifetime: TimeSpan.FromMilliseconds(200));

        await process.WaitForExitAsync(TimeSpan.FromSeconds(5), cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(process.LifetimeExpired);
        Assert.Contains("killed at its lifetime bound", process.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void FreeUdpPort_ReturnsAnUnboundLoopbackPort_AndIsBoundSeesBinding()
    {
        int port = FreeUdpPort.GetLoopbackPort();
        Assert.InRange(port, 1, 65535);

        using System.Net.Sockets.UdpClient socket = new(new IPEndPoint(IPAddress.Loopback, port));
        Assert.True(FreeUdpPort.IsBound(port));
    }

    [Fact]
    public void TestCertificates_Ecdsa_HasTheExpectedNamesKeyAndValidity()
    {
        using TestCertificate test = TestCertificates.CreateEcdsaP256();
        X509Certificate2 certificate = test.Certificate;

        Assert.True(certificate.HasPrivateKey);
        Assert.Equal("CN=localhost", certificate.Subject);
        Assert.Equal(certificate.Subject, certificate.Issuer);
        using (ECDsa? key = certificate.GetECDsaPublicKey())
        {
            Assert.NotNull(key);
            Assert.Equal(256, key.KeySize);
        }

        X509SubjectAlternativeNameExtension san = Assert.Single(certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>());
        Assert.Equal(["localhost"], san.EnumerateDnsNames());
        Assert.Equal([IPAddress.Loopback, IPAddress.IPv6Loopback], san.EnumerateIPAddresses());
        Assert.True(certificate.MatchesHostname("localhost"));
        Assert.True(certificate.MatchesHostname("127.0.0.1"));
        Assert.InRange(certificate.NotAfter.ToUniversalTime() - DateTime.UtcNow, TimeSpan.FromDays(29), TimeSpan.FromDays(30));
        Assert.True(certificate.NotBefore.ToUniversalTime() < DateTime.UtcNow);
    }

    [Fact]
    public void TestCertificates_Rsa_HasAnRsaKey()
    {
        using TestCertificate test = TestCertificates.CreateRsa();

        Assert.True(test.Certificate.HasPrivateKey);
        using RSA? key = test.Certificate.GetRSAPublicKey();
        Assert.NotNull(key);
        Assert.Equal(2048, key.KeySize);
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", test.PrivateKeyPem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestCertificates_FilesAndSpkiPin_AgreeWithOpenSsl()
    {
        string openssl = InteropPeers.Require(InteropPeer.OpenSsl);
        using TempDirectory temp = new();
        using TestCertificate test = TestCertificates.CreateEcdsaP256();
        TestCertificateFiles files = test.WriteFiles(temp.Path);
        string publicKeyDer = temp.Combine("spki.der");

        // The public key openssl reads from cert.pem must be the one in key.pem, and its SPKI must hash to the pin.
        await using (PeerProcess fromCertificate = PeerProcess.Start(
            openssl, ["x509", "-in", files.CertificatePath, "-noout", "-pubkey", "-out", temp.Combine("from-cert.pem")]))
        {
            Assert.True(await fromCertificate.WaitForExitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken) == 0, fromCertificate.Output);
        }

        await using (PeerProcess fromKey = PeerProcess.Start(
            openssl, ["pkey", "-in", files.KeyPath, "-pubout", "-outform", "DER", "-out", publicKeyDer]))
        {
            Assert.True(await fromKey.WaitForExitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken) == 0, fromKey.Output);
        }

        byte[] der = await File.ReadAllBytesAsync(publicKeyDer, TestContext.Current.CancellationToken);
        string certificatePublicKeyPem = await File.ReadAllTextAsync(temp.Combine("from-cert.pem"), TestContext.Current.CancellationToken);
        Assert.Equal(Convert.ToBase64String(SHA256.HashData(der)), test.SpkiSha256Base64);
        Assert.Equal(PemEncoding.WriteString("PUBLIC KEY", der).Trim(), certificatePublicKeyPem.Trim());
    }

    private static async Task<bool> WaitUntilGoneAsync(int pid)
    {
        for (int i = 0; i < 100; i++)
        {
            // A killed child of /bin/sh is reaped by init once sh dies; a zombie counts as gone.
            string status = $"/proc/{pid}/stat";
            if (!File.Exists(status) || File.ReadAllText(status).Split(' ')[2] == "Z")
            {
                return true;
            }

            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        return false;
    }
}
