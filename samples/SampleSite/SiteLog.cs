namespace SampleSite;

/// <summary>The sample's log lines, source-generated.</summary>
internal static partial class SiteLog
{
    [LoggerMessage(1, LogLevel.Information, "SampleSite {Version} listening on {Addresses} (HTTP/1.1 and HTTP/2 over TCP, HTTP/3 over UDP on the same port)", EventName = "Listening")]
    public static partial void Listening(ILogger logger, string version, string addresses);

    [LoggerMessage(2, LogLevel.Information, "Development certificate {Disposition}: {Path} (valid until {NotAfter}); SPKI sha256 {Spki} for chromium --ignore-certificate-errors-spki-list={Spki}", EventName = "DevelopmentCertificate")]
    public static partial void DevelopmentCertificate(ILogger logger, string disposition, string path, string spki, string notAfter);
}
