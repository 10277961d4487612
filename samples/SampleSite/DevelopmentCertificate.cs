using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace SampleSite;

/// <summary>
/// The sample's self-signed certificate, persisted so that a browser pinned to its SPKI
/// (<c>--ignore-certificate-errors-spki-list</c>) keeps working across runs and redeploys: every instance on the
/// machine serves the same key. Files: <c>devcert.pfx</c> (what the site loads), <c>devcert.pem</c>,
/// <c>devcert.key.pem</c> (for peers such as gtlsserver/openssl) and <c>devcert.spki</c> (base64 SHA-256 of the
/// SubjectPublicKeyInfo).
/// </summary>
internal sealed class DevelopmentCertificate
{
    public const string FileStem = "devcert";

    /// <summary>Regenerate this long before expiry, so a long-running instance never serves an expired certificate.</summary>
    private static readonly TimeSpan s_renewBefore = TimeSpan.FromDays(7);
    private static readonly TimeSpan s_lifetime = TimeSpan.FromDays(90);
    private static readonly TimeSpan s_lockTimeout = TimeSpan.FromSeconds(15);

    private DevelopmentCertificate(X509Certificate2 certificate, string directory, bool created)
    {
        Certificate = certificate;
        Directory = directory;
        Created = created;
        SpkiSha256Base64 = ComputeSpkiSha256Base64(certificate);
    }

    /// <summary>The certificate with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>Where the files live.</summary>
    public string Directory { get; }

    /// <summary>True when this run generated the certificate; false when it reused the persisted one.</summary>
    public bool Created { get; }

    /// <summary>Base64 SHA-256 of the DER SubjectPublicKeyInfo: Chromium's <c>--ignore-certificate-errors-spki-list</c> value.</summary>
    public string SpkiSha256Base64 { get; }

    public string PfxPath => Path.Combine(Directory, FileStem + ".pfx");

    public string PemPath => Path.Combine(Directory, FileStem + ".pem");

    /// <summary>
    /// The default folder: <c>~/.aspnetquicsteer</c>, shared by every instance and version of the site on the machine.
    /// </summary>
    public static string DefaultDirectory
        => Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".aspnetquicsteer");

    /// <summary>Loads the persisted certificate when it is still usable, otherwise creates and persists a new one.</summary>
    public static DevelopmentCertificate LoadOrCreate(string directory, TimeProvider time)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(time);
        CreatePrivateDirectory(directory);

        // Two instances started together (a redeploy) must not each write a different key: the second would serve a
        // certificate whose SPKI no longer matches the printed/pinned one.
        using FileStream fileLock = AcquireLock(Path.Combine(directory, FileStem + ".lock"));
        string pfxPath = Path.Combine(directory, FileStem + ".pfx");
        DateTimeOffset now = time.GetUtcNow();
        if (TryLoad(pfxPath, now) is { } existing)
        {
            return new DevelopmentCertificate(existing, directory, created: false);
        }

        X509Certificate2 certificate = Create(now);
        Persist(certificate, directory);
        return new DevelopmentCertificate(certificate, directory, created: true);
    }

    public static string ComputeSpkiSha256Base64(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return Convert.ToBase64String(SHA256.HashData(certificate.PublicKey.ExportSubjectPublicKeyInfo()));
    }

    private static X509Certificate2? TryLoad(string pfxPath, DateTimeOffset now)
    {
        if (!File.Exists(pfxPath)) return null;
        X509Certificate2 certificate;
        try
        {
            certificate = X509CertificateLoader.LoadPkcs12FromFile(pfxPath, password: null);
        }
        catch (CryptographicException)
        {
            return null; // a truncated or foreign file: replace it rather than fail startup
        }

        bool usable = certificate.HasPrivateKey
            && certificate.NotBefore.ToUniversalTime() <= now.UtcDateTime
            && certificate.NotAfter.ToUniversalTime() - s_renewBefore > now.UtcDateTime
            && HasRequiredNames(certificate);
        if (usable) return certificate;
        certificate.Dispose();
        return null;
    }

    private static bool HasRequiredNames(X509Certificate2 certificate)
    {
        X509SubjectAlternativeNameExtension? san = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
        if (san is null) return false;
        List<IPAddress> addresses = [.. san.EnumerateIPAddresses()];
        return san.EnumerateDnsNames().Contains("localhost", StringComparer.OrdinalIgnoreCase)
            && addresses.Contains(IPAddress.Loopback)
            && addresses.Contains(IPAddress.IPv6Loopback);
    }

    private static X509Certificate2 Create(DateTimeOffset now)
    {
        // P-256: every peer here (Chromium, ngtcp2/GnuTLS, quic-go, our own stack) verifies ECDSA P-256 signatures.
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        CertificateRequest request = new("CN=localhost, O=AspNetQuicSteer development", key, HashAlgorithmName.SHA256);
        SubjectAlternativeNameBuilder san = new();
        san.AddDnsName("localhost");
        san.AddIpAddress(IPAddress.Loopback);
        san.AddIpAddress(IPAddress.IPv6Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1", "Server Authentication")], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        using X509Certificate2 created = request.CreateSelfSigned(now.AddDays(-1), now.Add(s_lifetime));

        // Round-trip through PKCS#12 so the returned instance is exactly what later runs load from devcert.pfx.
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), password: null);
    }

    private static void Persist(X509Certificate2 certificate, string directory)
    {
        const UnixFileMode secret = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        string keyPem = certificate.GetECDsaPrivateKey() is { } ecdsa
            ? ecdsa.ExportPkcs8PrivateKeyPem()
            : throw new InvalidOperationException("The development certificate has no ECDSA private key.");

        // PEMs first and the PFX last: the PFX is what marks the set complete for the next run.
        WriteAtomically(Path.Combine(directory, FileStem + ".key.pem"), System.Text.Encoding.ASCII.GetBytes(keyPem), secret);
        WriteAtomically(Path.Combine(directory, FileStem + ".pem"), System.Text.Encoding.ASCII.GetBytes(certificate.ExportCertificatePem() + "\n"), null);
        WriteAtomically(Path.Combine(directory, FileStem + ".spki"), System.Text.Encoding.ASCII.GetBytes(ComputeSpkiSha256Base64(certificate) + "\n"), null);
        WriteAtomically(Path.Combine(directory, FileStem + ".pfx"), certificate.Export(X509ContentType.Pkcs12), secret);
    }

    private static void WriteAtomically(string path, byte[] contents, UnixFileMode? mode)
    {
        string temporary = $"{path}.{Environment.ProcessId}.tmp";
        File.WriteAllBytes(temporary, contents);
        if (mode is { } m && !OperatingSystem.IsWindows()) File.SetUnixFileMode(temporary, m);
        File.Move(temporary, path, overwrite: true);
    }

    private static void CreatePrivateDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(directory);
        }
        else
        {
            System.IO.Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    private static FileStream AcquireLock(string path)
    {
        long deadline = Environment.TickCount64 + (long)s_lockTimeout.TotalMilliseconds;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (Environment.TickCount64 < deadline)
            {
                // Another instance is creating the certificate; it takes well under a second.
                Thread.Sleep(50);
            }
        }
    }
}
