using Microsoft.Extensions.Logging;

namespace AspNetQuicSteer.Hosting.Internal;

/// <summary>Log lines of the hosting layer, source-generated, with stable event IDs (100–199).</summary>
internal static partial class QuicSteeringHostingLog
{
    [LoggerMessage(100, LogLevel.Warning, "{Address} is served over HTTPS without HTTP/3: its protocols exclude Http3, or Kestrel skipped HTTP/3 for it (dynamic port with several protocols).", EventName = "HttpsWithoutHttp3")]
    public static partial void HttpsWithoutHttp3(ILogger logger, string address);

    [LoggerMessage(101, LogLevel.Information, "Shared port: {Message}", EventName = "TcpListenerShared")]
    public static partial void TcpListenerShared(ILogger logger, string message);
}
