using Microsoft.Extensions.Logging;

namespace AspNetQuicSteer.Hosting.Internal;

/// <summary>Log lines of the hosting layer, source-generated, with stable event IDs (100–199).</summary>
internal static partial class QuicSteeringHostingLog
{
    [LoggerMessage(100, LogLevel.Warning, "{Address} is served over HTTPS without HTTP/3: its protocols exclude Http3, or Kestrel skipped HTTP/3 for it (dynamic port with several protocols).", EventName = "HttpsWithoutHttp3")]
    public static partial void HttpsWithoutHttp3(ILogger logger, string address);

    [LoggerMessage(101, LogLevel.Information, "Shared port: {Message}", EventName = "TcpListenerShared")]
    public static partial void TcpListenerShared(ILogger logger, string message);

    [LoggerMessage(102, LogLevel.Information, "A newer generation took over the port: draining {Connections} HTTP/3 and {TcpConnections} HTTP/1.1/HTTP/2 connection(s) (GOAWAY sent, Connection: close), drain timeout {DrainTimeoutSeconds} s.", EventName = "GenerationDraining")]
    public static partial void Draining(ILogger logger, int connections, int tcpConnections, double drainTimeoutSeconds);

    [LoggerMessage(103, LogLevel.Information, "Generation drained ({Reason}) after {ElapsedSeconds:0.0} s: {AtDrain} HTTP/3 connection(s) when draining began, {Drained} drained, {Aborted} aborted ({CancelledRequests} request(s) cancelled with H3_REQUEST_CANCELLED), {TcpAborted} HTTP/1.1/HTTP/2 connection(s) aborted; stopping.", EventName = "GenerationDrained")]
    public static partial void Drained(ILogger logger, string reason, double elapsedSeconds, int atDrain, int drained, int aborted, int cancelledRequests, int tcpAborted);

    [LoggerMessage(104, LogLevel.Information, "Health gate passed (attempt {Attempt}, {ElapsedSeconds:0.00} s): taking over the port.", EventName = "HealthGatePassed")]
    public static partial void HealthGatePassed(ILogger logger, int attempt, double elapsedSeconds);

    [LoggerMessage(105, LogLevel.Warning, "Health gate attempt {Attempt} failed: {Failure}", EventName = "HealthGateAttemptFailed")]
    public static partial void HealthGateAttemptFailed(ILogger logger, int attempt, string failure);

    [LoggerMessage(106, LogLevel.Error, "Health gate failed after {Attempts} attempt(s) in {ElapsedSeconds:0.0} s ({Failure}): this generation does not take over; the previous one keeps serving.", EventName = "HealthGateFailed")]
    public static partial void HealthGateFailed(ILogger logger, int attempts, double elapsedSeconds, string failure);

    [LoggerMessage(107, LogLevel.Warning, "Rolled back: this generation is active again (its successor failed on probation); draining stopped.", EventName = "GenerationRolledBack")]
    public static partial void RolledBack(ILogger logger);
}
