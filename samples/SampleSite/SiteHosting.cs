using System.Globalization;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace SampleSite;

/// <summary>How the sample listens: defaults, the development certificate, and the startup line.</summary>
internal static class SiteHosting
{
    /// <summary>TCP (HTTP/1.1, HTTP/2) and UDP (HTTP/3) port used when nothing else is configured.</summary>
    public const int DefaultPort = 5443;

    /// <summary>Configuration key of the development certificate's folder (default ~/.aspnetquicsteer).</summary>
    public const string CertificateDirectoryKey = "SampleSite:CertificateDirectory";

    /// <summary>Configuration key (and environment variable) naming this instance in responses and logs.</summary>
    public const string VersionKey = "APP_VERSION";

    public static string GetVersion(IConfiguration configuration) => configuration[VersionKey] is { Length: > 0 } version ? version : "dev";

    /// <summary>
    /// HTTP/3 through UseQuicSteering, the default endpoint, and the development certificate for HTTPS endpoints that
    /// have no certificate of their own.
    /// </summary>
    public static DevelopmentCertificateSource AddSiteHosting(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        // A new version must answer /healthz (Program.cs) over HTTP/3 before it takes over a shared port; configuration
        // (QuicSteering:HealthGate:Path) may name another path.
        builder.WebHost.UseQuicSteering(static options => options.HealthGate.Path ??= "/healthz");

        // A URL default rather than ListenOptions in code: Kestrel ranks urls below Kestrel:Endpoints and code-based
        // Listen() calls (WebApplicationFactory's UseKestrel, for one), so any explicit configuration replaces it.
        // Protocols default to Http1AndHttp2AndHttp3 and the port is fixed, so HTTP/3 gets the same port over UDP.
        if (!HasConfiguredAddresses(builder.Configuration))
        {
            builder.WebHost.UseUrls(string.Create(CultureInfo.InvariantCulture, $"https://127.0.0.1:{DefaultPort}"));
        }

        string directory = builder.Configuration[CertificateDirectoryKey] is { Length: > 0 } configured
            ? Path.GetFullPath(configured, builder.Environment.ContentRootPath)
            : DevelopmentCertificate.DefaultDirectory;
        DevelopmentCertificateSource certificates = new(directory, TimeProvider.System);
        builder.Services.AddSingleton(certificates);

        // Kestrel's own fallback (Kestrel:Certificates:Default) is consulted only when the defaults left the certificate
        // empty, so stand back when one is configured. Per-endpoint certificates override the defaults anyway.
        bool defaultCertificateConfigured = builder.Configuration.GetSection("Kestrel:Certificates:Default").Exists();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.ConfigureHttpsDefaults(https =>
            {
                if (https.ServerCertificate is null && https.ServerCertificateSelector is null && !defaultCertificateConfigured)
                {
                    https.ServerCertificate = certificates.Get().Certificate;
                }
            });
        });
        return certificates;
    }

    /// <summary>Logs the URLs and the certificate pin once Kestrel has bound, so what is printed is what is served.</summary>
    public static void LogStartupLine(this WebApplication app, string version, DevelopmentCertificateSource certificates)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(certificates);
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            ILogger logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("SampleSite");
            ICollection<string> addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            SiteLog.Listening(logger, version, string.Join(" ", addresses));
            if (certificates.Used is { } certificate)
            {
                SiteLog.DevelopmentCertificate(
                    logger, certificate.Created ? "created" : "reused", certificate.PemPath, certificate.SpkiSha256Base64,
                    certificate.Certificate.NotAfter.ToUniversalTime().ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
            }
        });
    }

    private static bool HasConfiguredAddresses(ConfigurationManager configuration)
        => !string.IsNullOrEmpty(configuration[WebHostDefaults.ServerUrlsKey])
            || !string.IsNullOrEmpty(configuration[WebHostDefaults.HttpPortsKey])
            || !string.IsNullOrEmpty(configuration[WebHostDefaults.HttpsPortsKey])
            || configuration.GetSection("Kestrel:Endpoints").Exists();
}

/// <summary>
/// Loads (or creates) the development certificate the first time an HTTPS endpoint needs one, so a site whose
/// endpoints all bring their own certificate never touches ~/.aspnetquicsteer.
/// </summary>
internal sealed class DevelopmentCertificateSource(string directory, TimeProvider time)
{
    private readonly Lazy<DevelopmentCertificate> _certificate = new(() => DevelopmentCertificate.LoadOrCreate(directory, time));

    /// <summary>The certificate, if an endpoint used it.</summary>
    public DevelopmentCertificate? Used => _certificate.IsValueCreated ? _certificate.Value : null;

    public DevelopmentCertificate Get() => _certificate.Value;
}
