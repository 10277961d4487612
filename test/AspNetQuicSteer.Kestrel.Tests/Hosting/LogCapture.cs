using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace AspNetQuicSteer.Kestrel.Tests.Hosting;

/// <summary>One captured log entry.</summary>
internal sealed record CapturedLog(string Category, LogLevel Level, EventId EventId, string Message, Exception? Exception)
{
    public override string ToString() => $"{Level} {Category}[{EventId.Id}] {Message} {Exception}";
}

/// <summary>
/// Captures a host's log: warnings and errors of every category, plus the debug lines of Kestrel and our transport (the
/// story of each connection's shutdown, for failure messages). Tests assert on it that the transport logged no fault.
/// </summary>
internal sealed class LogCapture : ILoggerProvider
{
    /// <summary>The category of the transport's log lines (QuicSteeringTransportFactory's logger).</summary>
    public const string TransportCategory = "AspNetQuicSteer.Kestrel.Transport";

    private readonly ConcurrentQueue<CapturedLog> _entries = new();

    public IReadOnlyList<CapturedLog> Entries => [.. _entries];

    /// <summary>Errors (and worse) the QUIC transport logged.</summary>
    public IReadOnlyList<CapturedLog> TransportErrors
        => [.. _entries.Where(e => e.Category.StartsWith(TransportCategory, StringComparison.Ordinal) && e.Level >= LogLevel.Error)];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    /// <summary>The last <paramref name="maxEntries"/> entries, one per line, for assertion messages.</summary>
    public string Describe(int maxEntries = 80) => string.Join('\n', Entries.TakeLast(maxEntries));

    public void Dispose()
    {
    }

    private sealed class Logger(LogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        private readonly LogLevel _minimum =
            category.StartsWith("AspNetQuicSteer", StringComparison.Ordinal) || category.StartsWith("Microsoft.AspNetCore.Server.Kestrel", StringComparison.Ordinal)
                ? LogLevel.Debug
                : LogLevel.Warning;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= _minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            owner._entries.Enqueue(new CapturedLog(category, logLevel, eventId, formatter(state, exception), exception));
        }
    }
}
