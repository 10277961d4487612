using Microsoft.Extensions.Logging;

namespace AspNetQuicSteer.Hosting.Internal;

/// <summary>Log lines of the hosting layer, source-generated, with stable event IDs (100–199).</summary>
internal static partial class QuicSteeringHostingLog
{
    [LoggerMessage(100, LogLevel.Warning, "{Address} is served over HTTPS without HTTP/3: its protocols exclude Http3, or Kestrel skipped HTTP/3 for it (dynamic port with several protocols).", EventName = "HttpsWithoutHttp3")]
    public static partial void HttpsWithoutHttp3(ILogger logger, string address);

    [LoggerMessage(101, LogLevel.Information, "Shared port: {Message}", EventName = "TcpListenerShared")]
    public static partial void TcpListenerShared(ILogger logger, string message);

    [LoggerMessage(102, LogLevel.Information, "A newer generation took over the port: draining {Connections} connection(s) (GOAWAY sent), drain timeout {DrainTimeoutSeconds} s.", EventName = "GenerationDraining")]
    public static partial void Draining(ILogger logger, int connections, double drainTimeoutSeconds);

    [LoggerMessage(103, LogLevel.Information, "Generation drained ({Reason}): {AtDrain} connection(s) when draining began, {Left} left for the host's shutdown to close, after {ElapsedSeconds:0.0} s; stopping.", EventName = "GenerationDrained")]
    public static partial void Drained(ILogger logger, int atDrain, int left, double elapsedSeconds, string reason);
}
