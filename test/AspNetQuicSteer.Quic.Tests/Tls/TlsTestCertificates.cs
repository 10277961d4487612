using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace AspNetQuicSteer.Quic.Tests.Tls;

/// <summary>Certificates created in code (CertificateRequest), cached per test run.</summary>
internal static class TlsTestCertificates
{
    private static readonly Lazy<X509Certificate2> s_ecdsaP256 = new(() => SelfSigned(ECDsa.Create(ECCurve.NamedCurves.nistP256), "localhost"));
    private static readonly Lazy<X509Certificate2> s_ecdsaP384 = new(() => SelfSigned(ECDsa.Create(ECCurve.NamedCurves.nistP384), "localhost"));
    private static readonly Lazy<X509Certificate2> s_rsa2048 = new(() => SelfSigned(RSA.Create(2048), "localhost"));
    private static readonly Lazy<X509Certificate2> s_expired = new(() => SelfSigned(ECDsa.Create(ECCurve.NamedCurves.nistP256), "localhost", DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddDays(-1)));
    private static readonly Lazy<(X509Certificate2 Leaf, X509Certificate2 Intermediate, X509Certificate2 Root)> s_chain = new(CreateChain);
    private static readonly Lazy<X509Certificate2> s_otherRoot = new(() => SelfSigned(ECDsa.Create(ECCurve.NamedCurves.nistP256), "other", isCa: true));

    public static X509Certificate2 EcdsaP256 => s_ecdsaP256.Value;

    public static X509Certificate2 EcdsaP384 => s_ecdsaP384.Value;

    public static X509Certificate2 Rsa2048 => s_rsa2048.Value;

    public static X509Certificate2 Expired => s_expired.Value;

    public static (X509Certificate2 Leaf, X509Certificate2 Intermediate, X509Certificate2 Root) Chain => s_chain.Value;

    public static X509Certificate2 UnrelatedRoot => s_otherRoot.Value;

    private static X509Certificate2 SelfSigned(AsymmetricAlgorithm key, string name, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null, bool isCa = false)
    {
        using (key)
        {
            CertificateRequest request = key switch
            {
                ECDsa ec => new CertificateRequest($"CN={name}", ec, HashAlgorithmName.SHA256),
                RSA rsa => new CertificateRequest($"CN={name}", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
                _ => throw new ArgumentException("Unsupported key type.", nameof(key)),
            };
            AddLeafExtensions(request, name, isCa);
            return request.CreateSelfSigned(notBefore ?? DateTimeOffset.UtcNow.AddDays(-1), notAfter ?? DateTimeOffset.UtcNow.AddDays(30));
        }
    }

    private static void AddLeafExtensions(CertificateRequest request, string name, bool isCa)
    {
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(isCa, false, 0, true));
        if (isCa)
        {
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            return;
        }

        SubjectAlternativeNameBuilder san = new();
        san.AddDnsName(name);
        san.AddIpAddress(IPAddress.Loopback);
        san.AddIpAddress(IPAddress.IPv6Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
    }

    private static (X509Certificate2, X509Certificate2, X509Certificate2) CreateChain()
    {
        DateTimeOffset from = DateTimeOffset.UtcNow.AddDays(-1), to = DateTimeOffset.UtcNow.AddDays(30);
        using ECDsa rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        CertificateRequest rootRequest = new("CN=Test Root", rootKey, HashAlgorithmName.SHA256);
        AddLeafExtensions(rootRequest, "Test Root", isCa: true);
        X509Certificate2 root = rootRequest.CreateSelfSigned(from, to);

        using ECDsa intermediateKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        CertificateRequest intermediateRequest = new("CN=Test Intermediate", intermediateKey, HashAlgorithmName.SHA256);
        AddLeafExtensions(intermediateRequest, "Test Intermediate", isCa: true);
        intermediateRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(intermediateRequest.PublicKey, false));
        X509Certificate2 intermediate = intermediateRequest.Create(root, from, to, [1, 2, 3, 4]).CopyWithPrivateKey(intermediateKey);

        using ECDsa leafKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        CertificateRequest leafRequest = new("CN=chain.test", leafKey, HashAlgorithmName.SHA256);
        AddLeafExtensions(leafRequest, "chain.test", isCa: false);
        X509Certificate2 leaf = leafRequest.Create(intermediate, from, to, [5, 6, 7, 8]).CopyWithPrivateKey(leafKey);
        return (leaf, intermediate, root);
    }
}
