using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace AspNetQuicSteer.Quic.Tests.Interop;

/// <summary>Paths of a certificate and its private key written as PEM files.</summary>
internal readonly record struct TestCertificateFiles(string KeyPath, string CertificatePath);

/// <summary>
/// A self-signed server certificate for tests: CN=localhost, SAN DNS localhost, IP 127.0.0.1 and ::1,
/// valid from a day ago for 30 days, serverAuth. Owns the X509Certificate2 (with its private key).
/// </summary>
internal sealed class TestCertificate : IDisposable
{
    internal TestCertificate(X509Certificate2 certificate, string privateKeyPem)
    {
        Certificate = certificate;
        PrivateKeyPem = privateKeyPem;
    }

    /// <summary>The certificate, with its private key attached.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The certificate as PEM ("BEGIN CERTIFICATE").</summary>
    public string CertificatePem => Certificate.ExportCertificatePem();

    /// <summary>The private key as unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY"), which GnuTLS, OpenSSL and Go read.</summary>
    public string PrivateKeyPem { get; }

    /// <summary>Base64 SHA-256 of the SubjectPublicKeyInfo (Chromium's --ignore-certificate-errors-spki-list).</summary>
    public string SpkiSha256Base64 => TestCertificates.ComputeSpkiPin(Certificate);

    /// <summary>Writes key.pem and cert.pem into <paramref name="directory"/> (created if needed).</summary>
    public TestCertificateFiles WriteFiles(string directory)
    {
        Directory.CreateDirectory(directory);
        TestCertificateFiles files = new(Path.Combine(directory, "key.pem"), Path.Combine(directory, "cert.pem"));
        File.WriteAllText(files.KeyPath, PrivateKeyPem);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(files.KeyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.WriteAllText(files.CertificatePath, CertificatePem);
        return files;
    }

    public void Dispose() => Certificate.Dispose();
}

/// <summary>Creates self-signed test certificates with .NET's CertificateRequest.</summary>
internal static class TestCertificates
{
    public const string CommonName = "localhost";

    /// <summary>An ECDSA P-256 certificate signed with ecdsa_secp256r1_sha256.</summary>
    public static TestCertificate CreateEcdsaP256()
    {
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        CertificateRequest request = new($"CN={CommonName}", key, HashAlgorithmName.SHA256);
        return Create(request, X509KeyUsageFlags.DigitalSignature, key.ExportPkcs8PrivateKeyPem());
    }

    /// <summary>An RSA certificate (default 2048 bits) signed with sha256WithRSAEncryption.</summary>
    public static TestCertificate CreateRsa(int keySizeInBits = 2048)
    {
        using RSA key = RSA.Create(keySizeInBits);
        CertificateRequest request = new($"CN={CommonName}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return Create(
            request,
            X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment,
            key.ExportPkcs8PrivateKeyPem());
    }

    /// <summary>Base64 of SHA-256 over the certificate's DER SubjectPublicKeyInfo.</summary>
    public static string ComputeSpkiPin(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        byte[] spki = certificate.PublicKey.ExportSubjectPublicKeyInfo();
        return Convert.ToBase64String(SHA256.HashData(spki));
    }

    private static TestCertificate Create(CertificateRequest request, X509KeyUsageFlags keyUsage, string privateKeyPem)
    {
        SubjectAlternativeNameBuilder san = new();
        san.AddDnsName(CommonName);
        san.AddIpAddress(IPAddress.Loopback);
        san.AddIpAddress(IPAddress.IPv6Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(keyUsage, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1", "Server Authentication")], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));

        DateTimeOffset now = DateTimeOffset.UtcNow;
        X509Certificate2 certificate = request.CreateSelfSigned(now.AddDays(-1), now.AddDays(30));
        return new TestCertificate(certificate, privateKeyPem);
    }
}
