using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace AspNetQuicSteer.LoadTool;

/// <summary>The command: parse, run the engine with a progress line, print the summary, write the JSON, choose the exit code.</summary>
internal static class LoadCommand
{
    public const int ExitSuccess = 0;
    public const int ExitFailures = 1;
    public const int ExitUsage = 2;

    /// <summary>
    /// The process entry: Ctrl+C or SIGTERM stops the run gracefully (the summary is still printed); a second Ctrl+C kills.
    /// </summary>
    public static async Task<int> MainAsync(string[] args)
    {
        using CancellationTokenSource interrupt = new();
        void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
        {
            if (!interrupt.IsCancellationRequested)
            {
                e.Cancel = true;
                Console.Error.WriteLine("quicsteer-load: stopping (Ctrl+C again to quit at once)");
                interrupt.Cancel();
            }
        }

        Console.CancelKeyPress += OnCancelKeyPress;
        // SIGTERM stops the run the same way (summary and JSON still written): scripts such as eng/demo-rollover.sh
        // end an open-ended run with kill, and a background job of a non-interactive shell ignores SIGINT.
        using PosixSignalRegistration? terminate = OperatingSystem.IsWindows() ? null : PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            if (!interrupt.IsCancellationRequested)
            {
                Console.Error.WriteLine("quicsteer-load: SIGTERM, stopping");
                interrupt.Cancel();
            }
        });
        try
        {
            return await RunAsync(args, Console.Out, Console.Error, interrupt.Token).ConfigureAwait(false);
        }
        finally
        {
            Console.CancelKeyPress -= OnCancelKeyPress;
        }
    }

    /// <summary>
    /// Runs the command line <paramref name="args"/>: 0 without failures, 1 with failures, 2 on usage errors. The text
    /// summary goes to <paramref name="stdout"/> (to <paramref name="stderr"/> with --json -, which then writes the
    /// JSON to stdout); progress and errors go to <paramref name="stderr"/>.
    /// </summary>
    public static Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
        => RunAsync(args, stdout, stderr, handlerFactory: null, cancellationToken);

    /// <summary>As above, with the handler of each connection made by <paramref name="handlerFactory"/> when given.</summary>
    internal static async Task<int> RunAsync(
        string[] args,
        TextWriter stdout,
        TextWriter stderr,
        Func<LoadOptions, HttpMessageHandler>? handlerFactory,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);

        LoadParseResult parsed = LoadOptionsParser.Parse(args);
        if (parsed.HelpRequested)
        {
            await stdout.WriteLineAsync(LoadOptionsParser.Usage).ConfigureAwait(false);
            return ExitSuccess;
        }

        if (parsed.Options is not { } options)
        {
            return await UsageErrorAsync(stderr, parsed.Error ?? "invalid arguments").ConfigureAwait(false);
        }

        X509Certificate2Collection? trustedRoots = null;
        FileStream? jsonFile = null;
        try
        {
            if (options.CaFile is { } caFile)
            {
                trustedRoots = [];
                try
                {
                    trustedRoots.ImportFromPemFile(caFile);
                }
                catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
                {
                    return await UsageErrorAsync(stderr, $"--ca: cannot read '{caFile}': {e.Message}").ConfigureAwait(false);
                }

                if (trustedRoots.Count == 0)
                {
                    return await UsageErrorAsync(stderr, $"--ca: no certificate in '{caFile}'").ConfigureAwait(false);
                }
            }

            if (options.JsonPath is { } jsonPath and not "-")
            {
                // Opened before the run so that a bad path fails at once, not after the load.
                try
                {
                    jsonFile = File.Create(jsonPath);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    return await UsageErrorAsync(stderr, $"--json: cannot create '{jsonPath}': {e.Message}").ConfigureAwait(false);
                }
            }

            Func<HttpMessageHandler> factory = handlerFactory is null
                ? HandlerFactory.Create(options, trustedRoots)
                : () => handlerFactory(options);
            LoadEngine engine = new(options, factory);

            LoadResult result;
            using (CancellationTokenSource progressStop = new())
            {
                Task progress = options.ProgressInterval is { } interval
                    ? ProgressReporter.RunAsync(engine.GetProgress, interval, stderr, progressStop.Token)
                    : Task.CompletedTask;
                try
                {
                    result = await engine.RunAsync(cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    await progressStop.CancelAsync().ConfigureAwait(false);
                    await progress.ConfigureAwait(false);
                }
            }

            LoadSummary summary = LoadSummary.Create(options, result);
            summary.WriteText(options.JsonPath == "-" ? stderr : stdout);
            if (options.JsonPath == "-")
            {
                await stdout.WriteLineAsync(JsonSerializer.Serialize(summary, LoadSummaryJsonContext.Default.LoadSummary)).ConfigureAwait(false);
            }
            else if (jsonFile is not null)
            {
                await JsonSerializer.SerializeAsync(jsonFile, summary, LoadSummaryJsonContext.Default.LoadSummary, CancellationToken.None).ConfigureAwait(false);
            }

            return result.Failed > 0 ? ExitFailures : ExitSuccess;
        }
        finally
        {
            if (jsonFile is not null)
            {
                await jsonFile.DisposeAsync().ConfigureAwait(false);
            }

            if (trustedRoots is not null)
            {
                foreach (X509Certificate2 certificate in trustedRoots)
                {
                    certificate.Dispose();
                }
            }
        }
    }

    private static async Task<int> UsageErrorAsync(TextWriter stderr, string message)
    {
        await stderr.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"quicsteer-load: {message}")).ConfigureAwait(false);
        await stderr.WriteLineAsync("Try 'quicsteer-load --help'.").ConfigureAwait(false);
        return ExitUsage;
    }
}
