using AspNetQuicSteer.Quic.Tests.Interop;

namespace AspNetQuicSteer.Kestrel.Tests.Interop;

/// <summary>
/// Headless Chromium (Debian package chromium) as an HTTP/3 client, per /work/shared/design/PEERS.md. Like
/// <see cref="InteropPeers.Require"/>: a missing chromium skips the test locally and fails it under CI=true.
/// </summary>
internal static class Chromium
{
    /// <summary>Cold start on 2 cores plus a page load; the process is killed (whole tree) at this bound.</summary>
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromSeconds(90);

    public static string Require()
    {
        foreach (string candidate in new[] { "/usr/bin/chromium", "/usr/local/bin/chromium" })
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        const string message = "Interop peer Chromium (/usr/bin/chromium, Debian package chromium) is missing; "
            + "apt-get install -y --no-install-recommends chromium.";
        if (InteropPeers.IsContinuousIntegration)
        {
            Assert.Fail(message + " CI must provide every interop peer.");
        }

        Assert.Skip(message);
        return null!; // Assert.Skip always throws.
    }

    /// <summary>
    /// Loads <paramref name="path"/> from the server over QUIC only (--origin-to-force-quic-on) with the test
    /// certificate pinned by SPKI, and returns the process (exited) whose stdout is the DOM after scripts ran.
    /// </summary>
    public static Task<ChromiumRun> DumpDomAsync(InteropTestServer server, TestCertificate certificate, string path, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(certificate);
        return DumpDomAsync(server.Authority, server.Url(path), certificate.SpkiSha256Base64, cancellationToken, TimeSpan.FromSeconds(5));
    }

    /// <summary>
    /// Loads <paramref name="url"/> with <paramref name="authority"/> (host:port) forced onto QUIC and the server
    /// certificate pinned by <paramref name="spkiSha256Base64"/> (base64 SHA-256 of its SubjectPublicKeyInfo), and
    /// returns the run whose stdout is the DOM after scripts ran. With a <paramref name="virtualTimeBudget"/>, timers
    /// run on virtual time and the DOM is printed when the budget is spent; without one, at the load event, in real
    /// time (for a page whose script must span real events, such as a rollover).
    /// </summary>
    public static async Task<ChromiumRun> DumpDomAsync(
        string authority, string url, string spkiSha256Base64, CancellationToken cancellationToken, TimeSpan? virtualTimeBudget = null)
    {
        string chromium = Require();
        using TempDirectory profile = new("quicsteer-chromium-");
        List<string> arguments =
        [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + profile.Path, "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
            "--disable-breakpad", "--enable-quic", "--origin-to-force-quic-on=" + authority,
            "--ignore-certificate-errors-spki-list=" + spkiSha256Base64,
        ];
        if (virtualTimeBudget is { } budget) arguments.Add(FormattableString.Invariant($"--virtual-time-budget={budget.TotalMilliseconds:0}"));
        arguments.Add("--dump-dom");
        arguments.Add(url);
        await using PeerProcess process = PeerProcess.Start(chromium, arguments,
            new Dictionary<string, string?> { ["HOME"] = profile.Path, ["DBUS_SESSION_BUS_ADDRESS"] = "disabled:" },
            maxLifetime: MaxLifetime);
        int exitCode = await process.WaitForExitAsync(MaxLifetime + TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
        return new ChromiumRun(exitCode, string.Join('\n', process.StandardOutputLines), process.Describe(40));
    }
}

/// <summary>One chromium --dump-dom run: exit code, the dumped DOM (stdout), and a description for messages.</summary>
internal sealed record ChromiumRun(int ExitCode, string Dom, string Description);
