using System.Net.Security;
using TlsCipherSuite = AspNetQuicSteer.Quic.Crypto.TlsCipherSuite;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace AspNetQuicSteer.Quic.Tls;

/// <summary>
/// Validates a peer's Certificate chain (RFC 8446 §4.4.2.4, RFC 5280 via X509Chain) and, for servers, the
/// host name (RFC 6125, RFC 6066 §3 for IP literals). Failures map to precise alerts (RFC 8446 §6.2).
/// </summary>
internal static class TlsCertificateValidator
{
    private const string ServerAuthOid = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuthOid = "1.3.6.1.5.5.7.3.2";

    /// <summary>Returns the end-entity certificate when the chain is acceptable; otherwise throws <see cref="TlsAlertException"/>.</summary>
    /// <param name="certificates">DER certificates from the Certificate message, end-entity first.</param>
    /// <param name="expectServerAuth">Checks the serverAuth EKU (else clientAuth).</param>
    /// <param name="hostName">The name or IP literal to match; null skips the name check.</param>
    /// <param name="trustedRoots">Custom roots; null means the system trust store.</param>
    /// <param name="revocationMode">Revocation checking for the chain.</param>
    /// <param name="callback">Optional application override.</param>
    public static X509Certificate2 Validate(
        IReadOnlyList<byte[]> certificates,
        bool expectServerAuth,
        string? hostName,
        X509Certificate2Collection? trustedRoots,
        X509RevocationMode revocationMode,
        TlsCertificateValidationCallback? callback)
    {
        X509Certificate2 leaf = Load(certificates[0]);
        X509Certificate2Collection intermediates = [];
        using X509Chain chain = new();
        try
        {
            for (int i = 1; i < certificates.Count; i++)
            {
                intermediates.Add(Load(certificates[i]));
            }

            chain.ChainPolicy.RevocationMode = revocationMode;
            chain.ChainPolicy.ExtraStore.AddRange(intermediates);
            chain.ChainPolicy.ApplicationPolicy.Add(new Oid(expectServerAuth ? ServerAuthOid : ClientAuthOid));
            if (trustedRoots is not null)
            {
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(trustedRoots);
            }

            SslPolicyErrors errors = SslPolicyErrors.None;
            try
            {
                if (!chain.Build(leaf))
                {
                    errors |= SslPolicyErrors.RemoteCertificateChainErrors;
                }

                if (hostName is not null && !leaf.MatchesHostname(hostName, allowWildcards: true, allowCommonName: false))
                {
                    errors |= SslPolicyErrors.RemoteCertificateNameMismatch;
                }
            }
            catch (CryptographicException e)
            {
                // RFC 8446 §6.2: a certificate whose contents (e.g. its public key) cannot be processed is bad_certificate.
                throw new TlsAlertException(TlsAlert.BadCertificate, "Peer certificate is malformed: " + e.Message, e);
            }

            bool accepted = callback?.Invoke(leaf, chain, errors) ?? errors == SslPolicyErrors.None;
            if (!accepted)
            {
                throw Failure(chain, errors, hostName, callback is not null);
            }

            return leaf;
        }
        catch
        {
            leaf.Dispose();
            throw;
        }
        finally
        {
            foreach (X509Certificate2 c in intermediates)
            {
                c.Dispose();
            }
        }
    }

    /// <summary>RFC 8446 §6.2: a certificate that cannot be parsed is bad_certificate.</summary>
    public static X509Certificate2 Load(byte[] der)
    {
        try
        {
            return X509CertificateLoader.LoadCertificate(der);
        }
        catch (CryptographicException e)
        {
            throw new TlsAlertException(TlsAlert.BadCertificate, "Peer certificate cannot be parsed.", e);
        }
    }

    private static TlsAlertException Failure(X509Chain chain, SslPolicyErrors errors, string? hostName, bool byCallback)
    {
        X509ChainStatusFlags flags = X509ChainStatusFlags.NoError;
        foreach (X509ChainStatus status in chain.ChainStatus)
        {
            flags |= status.Status;
        }

        string detail = string.Join("; ", chain.ChainStatus.Select(s => $"{s.Status}: {s.StatusInformation.Trim()}"));

        // RFC 8446 §6.2 alert choice, most specific first.
        if ((errors & SslPolicyErrors.RemoteCertificateChainErrors) != 0)
        {
            if ((flags & X509ChainStatusFlags.Revoked) != 0)
            {
                return new TlsAlertException(TlsAlert.CertificateRevoked, $"Peer certificate is revoked ({detail}).");
            }

            if ((flags & X509ChainStatusFlags.NotTimeValid) != 0)
            {
                return new TlsAlertException(TlsAlert.CertificateExpired, $"Peer certificate is expired or not yet valid ({detail}).");
            }

            if ((flags & (X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain)) != 0)
            {
                return new TlsAlertException(TlsAlert.UnknownCa, $"Peer certificate chain does not lead to a trusted root ({detail}).");
            }

            if ((flags & (X509ChainStatusFlags.NotValidForUsage | X509ChainStatusFlags.InvalidExtension)) != 0)
            {
                return new TlsAlertException(TlsAlert.UnsupportedCertificate, $"Peer certificate is not valid for this usage ({detail}).");
            }

            return new TlsAlertException(TlsAlert.BadCertificate, $"Peer certificate chain is invalid ({detail}).");
        }

        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            return new TlsAlertException(TlsAlert.BadCertificate, $"Peer certificate does not match host name '{hostName}'.");
        }

        return new TlsAlertException(TlsAlert.BadCertificate, byCallback ? "Peer certificate rejected by the validation callback." : "Peer certificate rejected.");
    }
}
