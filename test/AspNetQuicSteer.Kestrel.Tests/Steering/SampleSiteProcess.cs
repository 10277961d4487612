using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace AspNetQuicSteer.Kestrel.Tests.Steering;

/// <summary>
/// The sample site as a real process on a shared UDP port: one generation. HTTP/3 only unless asked for more
/// protocols (then Kestrel's TCP listener is shared too), steering files in a test-owned directory, logs captured
/// line by line.
/// </summary>
internal sealed partial class SampleSiteProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Lock _outputLock = new();
    private readonly TaskCompletionSource<int> _joined = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Dictionary<string, TaskCompletionSource> _states = [];
    private int _disposed;

    private SampleSiteProcess(Process process, string version, int port)
    {
        _process = process;
        Version = version;
        Port = port;
    }

    public string Version { get; }

    public int Port { get; }

    public int Pid => _process.Id;

    public Uri BaseAddress => new($"https://127.0.0.1:{Port}/");

    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    public bool HasExited => Volatile.Read(ref _disposed) != 0 || _process.HasExited;

    public string Output
    {
        get
        {
            lock (_outputLock) return _output.ToString();
        }
    }

    /// <summary>The generation the coordinator gave this process.</summary>
    public Task<int> Generation => _joined.Task;

    /// <summary>
    /// Starts one generation. <paramref name="user"/> runs it as another user through runuser(1) (the caller must be
    /// root; <see cref="Pid"/> is then runuser's); its <paramref name="certificateDirectory"/> (default
    /// <c>&lt;steeringDirectory&gt;/certificates</c>) must be that user's to write.
    /// </summary>
    public static SampleSiteProcess Start(
        string version, int port, string steeringDirectory, string dataplane, string? applicationName = null, string? user = null, string? certificateDirectory = null,
        string protocols = "Http3", string? cibirId = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        string site = Path.Combine(AppContext.BaseDirectory, "SampleSite.dll");
        var start = new ProcessStartInfo(user is null ? DotnetPath : RunuserPath) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
        if (user is not null)
        {
            foreach (string argument in new[] { "-u", user, "--", DotnetPath }) start.ArgumentList.Add(argument);
        }

        start.ArgumentList.Add(site);
        start.ArgumentList.Add("--contentRoot");
        start.ArgumentList.Add(AppContext.BaseDirectory);
        start.Environment["APP_VERSION"] = version;
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["Kestrel__Endpoints__h3__Url"] = $"https://127.0.0.1:{port}";
        start.Environment["Kestrel__Endpoints__h3__Protocols"] = protocols;
        start.Environment["QuicSteering__Transport__Dataplane"] = dataplane;
        start.Environment["QuicSteering__Transport__SteeringDirectory"] = steeringDirectory;
        start.Environment["SampleSite__CertificateDirectory"] = certificateDirectory ?? Path.Combine(steeringDirectory, "certificates");
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        start.Environment["Logging__LogLevel__AspNetQuicSteer"] = "Information";
        start.Environment["Logging__LogLevel__AspNetQuicSteer.Hosting"] = "Information";
        start.Environment["Logging__Console__FormatterName"] = "simple";
        start.Environment["Logging__Console__FormatterOptions__SingleLine"] = "true";
        if (applicationName is not null) start.Environment["QuicSteering__Transport__ApplicationName"] = applicationName;
        if (cibirId is not null) start.Environment["QuicSteering__Transport__CibirId"] = cibirId;
        foreach ((string name, string value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        start.Environment.Remove("DOTNET_STARTUP_HOOKS");

        var site_ = new SampleSiteProcess(Process.Start(start)!, version, port);
        site_._process.OutputDataReceived += (_, e) => site_.OnLine(e.Data);
        site_._process.ErrorDataReceived += (_, e) => site_.OnLine(e.Data);
        site_._process.BeginOutputReadLine();
        site_._process.BeginErrorReadLine();
        return site_;
    }

    /// <summary>Waits until the generation's state is <paramref name="state"/> (from its log), failing with the log if the process exits first.</summary>
    public async Task WaitForStateAsync(string state, TimeSpan? timeout = null)
    {
        Task reached;
        lock (_outputLock)
        {
            if (!_states.TryGetValue(state, out TaskCompletionSource? source)) _states[state] = source = new(TaskCreationOptions.RunContinuationsAsynchronously);
            reached = source.Task;
        }

        Task exited = _process.WaitForExitAsync(TestContext.Current.CancellationToken);
        Task first = await Task.WhenAny(reached, exited, Task.Delay(timeout ?? TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken));
        if (first == reached) return;
        await Task.Delay(200, TestContext.Current.CancellationToken); // let the last lines arrive
        Assert.Fail($"{Version} did not become {state} ({(first == exited ? $"exited with {_process.ExitCode}" : "timed out")}):\n{Output}");
    }

    /// <summary>Waits for the process to exit by itself (a startup refusal); returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cts.CancelAfter(timeout);
        await _process.WaitForExitAsync(cts.Token);
        _process.WaitForExit(); // drains the redirected output
        return _process.ExitCode;
    }

    public void Kill() => _process.Kill(entireProcessTree: true);

    /// <summary>SIGTERM (the host's graceful stop) and waits for the exit; returns the exit code.</summary>
    public async Task<int> StopAsync(TimeSpan timeout)
    {
        _ = Sigterm(_process.Id);
        return await WaitForExitAsync(timeout);
    }

    /// <summary>SIGTERM (the host's graceful stop), then SIGKILL after 15 s.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        if (!_process.HasExited)
        {
            _ = Sigterm(_process.Id);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        lock (_outputLock)
        {
            _output.AppendLine(line);
            Match joined = JoinedPattern().Match(line);
            if (joined.Success) _joined.TrySetResult(int.Parse(joined.Groups[1].Value, CultureInfo.InvariantCulture));
            Match state = StatePattern().Match(line);
            if (state.Success)
            {
                string name = state.Groups[1].Value;
                if (!_states.TryGetValue(name, out TaskCompletionSource? source)) _states[name] = source = new(TaskCreationOptions.RunContinuationsAsynchronously);
                source.TrySetResult();
            }
        }
    }

    private static string RunuserPath =>
        new[] { "/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser" }.FirstOrDefault(File.Exists) ?? "runuser";

    private static string DotnetPath =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host
        : new[] { "/usr/bin/dotnet", "/usr/share/dotnet/dotnet", "/usr/lib/dotnet/dotnet" }.FirstOrDefault(File.Exists) ?? "dotnet";

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill")]
    private static partial int SigtermNative(int pid, int signal);

    private static int Sigterm(int pid) => SigtermNative(pid, 15);

    [GeneratedRegex(@"gen(\d+) joined ")]
    private static partial Regex JoinedPattern();

    [GeneratedRegex(@"Generation \d+ on .* is now (\w+) \(")]
    private static partial Regex StatePattern();
}
