using System.Diagnostics;
using System.Text;

namespace AspNetQuicSteer.Quic.Tests.Interop;

/// <summary>Which output stream a captured line came from.</summary>
internal enum PeerStream
{
    StandardOutput,
    StandardError,
}

/// <summary>One captured output line, with the time since the process started.</summary>
internal readonly record struct PeerOutputLine(PeerStream Stream, string Text, TimeSpan Elapsed);

/// <summary>
/// A peer program run for a test: captures stdout/stderr line by line (thread-safe), lets a test await a
/// line, bounds the process's lifetime, and kills the whole process tree on timeout and on dispose.
/// </summary>
internal sealed class PeerProcess : IAsyncDisposable, IDisposable
{
    /// <summary>Lifetime bound used when <see cref="Start"/> is given none.</summary>
    public static readonly TimeSpan DefaultMaxLifetime = TimeSpan.FromSeconds(60);

    private const int MaxCapturedLines = 200_000;

    private readonly Process _process;
    private readonly Stopwatch _clock;
    private readonly Lock _gate = new();
    private readonly List<PeerOutputLine> _lines = [];
    private readonly List<LineWaiter> _waiters = [];
    private readonly TaskCompletionSource _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Timer _lifetimeTimer;
    private int _droppedLines;
    private int _disposed;

    private PeerProcess(string name, Process process, TimeSpan maxLifetime)
    {
        Name = name;
        _process = process;
        _clock = Stopwatch.StartNew();
        _process.OutputDataReceived += (_, e) => OnLine(PeerStream.StandardOutput, e.Data);
        _process.ErrorDataReceived += (_, e) => OnLine(PeerStream.StandardError, e.Data);
        _process.Start();
        ProcessId = _process.Id;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        _lifetimeTimer = new Timer(_ => OnLifetimeExpired(), null, maxLifetime, Timeout.InfiniteTimeSpan);
        CommandLine = FormatCommandLine(process.StartInfo);
    }

    /// <summary>Short name used in messages (the executable's file name).</summary>
    public string Name { get; }

    /// <summary>The command line, for messages.</summary>
    public string CommandLine { get; }

    public int ProcessId { get; }

    /// <summary>Free slot for the test that started the process (e.g. the address a server listens on).</summary>
    public object? Tag { get; set; }

    /// <summary>True when the lifetime bound expired and the process was killed for it.</summary>
    public bool LifetimeExpired { get; private set; }

    public bool HasExited => _process.HasExited;

    /// <summary>The exit code, or null while running.</summary>
    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    /// <summary>A snapshot of every captured line, in arrival order.</summary>
    public IReadOnlyList<PeerOutputLine> Lines
    {
        get
        {
            lock (_gate)
            {
                return [.. _lines];
            }
        }
    }

    public IReadOnlyList<string> StandardOutputLines => SelectLines(PeerStream.StandardOutput);

    public IReadOnlyList<string> StandardErrorLines => SelectLines(PeerStream.StandardError);

    /// <summary>The whole captured output, one line per output line, prefixed "out| " or "err| ".</summary>
    public string Output => Describe(maxLines: int.MaxValue);

    /// <summary>
    /// Starts <paramref name="fileName"/>. <paramref name="environment"/> entries are added to (or, with a
    /// null value, removed from) the inherited environment. The process is killed (whole tree) when
    /// <paramref name="maxLifetime"/> (default 60 s) elapses, and on dispose.
    /// </summary>
    public static PeerProcess Start(
        string fileName,
        IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string?>? environment = null,
        string? workingDirectory = null,
        TimeSpan? maxLifetime = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(fileName);
        ProcessStartInfo startInfo = new(fileName)
        {
            UseShellExecute = false,
            RedirectStandardInput = true, // never let a peer read the test host's stdin
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = workingDirectory ?? string.Empty,
        };
        foreach (string argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        if (environment is not null)
        {
            foreach ((string key, string? value) in environment)
            {
                if (value is null)
                {
                    startInfo.Environment.Remove(key);
                }
                else
                {
                    startInfo.Environment[key] = value;
                }
            }
        }

        Process process = new() { StartInfo = startInfo, EnableRaisingEvents = true };
        try
        {
            PeerProcess peer = new(Path.GetFileName(fileName), process, maxLifetime ?? DefaultMaxLifetime);
            process.StandardInput.Close();
            return peer;
        }
        catch
        {
            process.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Waits for a line (already captured or yet to come) matching <paramref name="predicate"/>, from
    /// <paramref name="stream"/> or either stream when null. Throws <see cref="TimeoutException"/> (with the
    /// output so far) on timeout, and <see cref="InvalidOperationException"/> when the process's output ends
    /// without such a line.
    /// </summary>
    public async Task<string> WaitForLineAsync(
        Func<string, bool> predicate,
        TimeSpan timeout,
        PeerStream? stream = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        LineWaiter waiter = new(predicate, stream);
        lock (_gate)
        {
            foreach (PeerOutputLine line in _lines)
            {
                if (waiter.Matches(line))
                {
                    return line.Text;
                }
            }

            if (_stdoutClosed.Task.IsCompleted && _stderrClosed.Task.IsCompleted)
            {
                throw new InvalidOperationException(
                    $"{Name} (pid {ProcessId}) ended its output without a matching line.\n{Describe()}");
            }

            _waiters.Add(waiter);
        }

        string? matched;
        try
        {
            matched = await waiter.Completion.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException(
                $"{Name} (pid {ProcessId}) printed no matching line within {timeout.TotalSeconds:0.###} s.\n{Describe()}");
        }
        finally
        {
            lock (_gate)
            {
                _waiters.Remove(waiter);
            }
        }

        return matched ?? throw new InvalidOperationException(
            $"{Name} (pid {ProcessId}) ended its output without a matching line.\n{Describe()}");
    }

    /// <summary>
    /// Waits until the process has exited and its output is fully captured, and returns the exit code.
    /// On timeout kills the whole process tree and throws <see cref="TimeoutException"/> with the output.
    /// </summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        Task exited = Task.WhenAll(_process.WaitForExitAsync(cancellationToken), _stdoutClosed.Task, _stderrClosed.Task);
        try
        {
            await exited.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Kill();
            throw new TimeoutException(
                $"{Name} (pid {ProcessId}) did not exit within {timeout.TotalSeconds:0.###} s and was killed.\n{Describe()}");
        }

        return _process.ExitCode;
    }

    /// <summary>Kills the whole process tree; does nothing when the process has already exited.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Exited between the check and the kill.
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // Exited while the tree was being enumerated.
        }
    }

    /// <summary>
    /// A description for assertion messages: command line, state, and the last <paramref name="maxLines"/>
    /// captured lines.
    /// </summary>
    public string Describe(int maxLines = 200)
    {
        StringBuilder text = new();
        string state = _process.HasExited ? $"exit code {_process.ExitCode}" : "running";
        if (LifetimeExpired)
        {
            state += ", killed at its lifetime bound";
        }

        text.Append(CultureInfoInvariant($"[{Name} pid {ProcessId}: {state}] {CommandLine}\n"));
        lock (_gate)
        {
            int skip = Math.Max(0, _lines.Count - maxLines);
            if (skip > 0)
            {
                text.Append(CultureInfoInvariant($"... {skip} earlier line(s) not shown\n"));
            }

            for (int i = skip; i < _lines.Count; i++)
            {
                PeerOutputLine line = _lines[i];
                text.Append(line.Stream == PeerStream.StandardOutput ? "out| " : "err| ").Append(line.Text).Append('\n');
            }

            if (_droppedLines > 0)
            {
                text.Append(CultureInfoInvariant($"... {_droppedLines} line(s) beyond the capture limit were dropped\n"));
            }
        }

        return text.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _lifetimeTimer.DisposeAsync().ConfigureAwait(false);
        Kill();
        try
        {
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Killed but not reaped in time; nothing more can be done here.
        }

        _process.Dispose();
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _lifetimeTimer.Dispose();
        Kill();
        _process.WaitForExit(5000);
        _process.Dispose();
    }

    public override string ToString() => $"{Name} (pid {ProcessId})";

    private static string CultureInfoInvariant(FormattableString text) => FormattableString.Invariant(text);

    private static string FormatCommandLine(ProcessStartInfo startInfo)
    {
        StringBuilder text = new(startInfo.FileName);
        foreach (string argument in startInfo.ArgumentList)
        {
            text.Append(' ');
            bool quote = argument.Length == 0 || argument.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'');
            text.Append(quote ? "'" + argument.Replace("'", "'\\''", StringComparison.Ordinal) + "'" : argument);
        }

        return text.ToString();
    }

    private IReadOnlyList<string> SelectLines(PeerStream stream)
    {
        lock (_gate)
        {
            return _lines.Where(l => l.Stream == stream).Select(l => l.Text).ToArray();
        }
    }

    private void OnLifetimeExpired()
    {
        if (!_process.HasExited)
        {
            LifetimeExpired = true;
            Kill();
        }
    }

    private void OnLine(PeerStream stream, string? text)
    {
        lock (_gate)
        {
            if (text is null)
            {
                (stream == PeerStream.StandardOutput ? _stdoutClosed : _stderrClosed).TrySetResult();
                if (_stdoutClosed.Task.IsCompleted && _stderrClosed.Task.IsCompleted)
                {
                    foreach (LineWaiter waiter in _waiters)
                    {
                        waiter.Completion.TrySetResult(null); // end of output: no match can come
                    }
                }

                return;
            }

            PeerOutputLine line = new(stream, text, _clock.Elapsed);
            if (_lines.Count < MaxCapturedLines)
            {
                _lines.Add(line);
            }
            else
            {
                _droppedLines++;
            }

            foreach (LineWaiter waiter in _waiters)
            {
                if (!waiter.Completion.Task.IsCompleted && waiter.Matches(line))
                {
                    waiter.Completion.TrySetResult(text);
                }
            }
        }
    }

    private sealed class LineWaiter(Func<string, bool> predicate, PeerStream? stream)
    {
        public TaskCompletionSource<string?> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Matches(PeerOutputLine line) => (stream is null || stream == line.Stream) && predicate(line.Text);
    }
}
