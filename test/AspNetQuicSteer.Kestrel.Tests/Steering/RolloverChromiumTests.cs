using System.Text.RegularExpressions;
using AspNetQuicSteer.Kestrel.Tests.Interop;

namespace AspNetQuicSteer.Kestrel.Tests.Steering;

/// <summary>
/// Issue 7 acceptance with a real browser: headless Chromium keeps loading the sample page over HTTP/3 while v1 hands
/// the port to v2, and shows v2 once v2 is active. One Chromium session runs the sample's /rollover-probe page, which
/// loads "/" again and again and lists what each load showed; the test starts v2 once the first loads came from v1.
/// v1's GOAWAY (RFC 9114 §5.2) makes Chromium open its next connection, which the port steers to v2 (invariant 2).
/// </summary>
[Trait("Category", "Interop")]
[Collection(SharedPortProcesses.Name)]
public sealed partial class RolloverChromiumTests
{
    /// <summary>Loads of "/" the probe must see from v2 before it stops.</summary>
    private const int LoadsOfV2 = 5;

    // v1 logs every request (ASP.NET Core's hosting diagnostics), so the test sees when Chromium's loads arrive.
    private static readonly Dictionary<string, string> s_requestLog = new()
    {
        ["Logging__LogLevel__Microsoft.AspNetCore.Hosting.Diagnostics"] = "Information",
    };

    [Fact]
    public async Task Chromium_keeps_loading_the_page_over_h3_across_a_rollover_and_shows_v2_once_it_is_active()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Port steering is Linux-only.");
        Chromium.Require();
        CancellationToken cancel = TestContext.Current.CancellationToken;
        using var port = new SharedPortFixture();
        await using SampleSiteProcess v1 = port.Start("v1", "ReuseportCbpf", environment: s_requestLog);
        await v1.WaitForStateAsync("Active");

        // Every generation on the port serves the same persisted development certificate; Chromium pins its SPKI.
        string spki = (await File.ReadAllTextAsync(Path.Combine(port.Directory, "certificates", "devcert.spki"), cancel)).Trim();
        string authority = $"127.0.0.1:{port.Port}";
        Task<ChromiumRun> chromium = Chromium.DumpDomAsync(
            authority, $"https://{authority}/rollover-probe?until=v2&count={LoadsOfV2}&seconds=45", spki, cancel);

        // Chromium starts cold (seconds on 2 cores); v2 starts once v1 has served the probe a few loads of "/".
        string probeLoad = $"Request finished HTTP/3 GET https://{authority}/?probe=";
        for (int waited = 0; Count(v1.Output, probeLoad) < 3; waited += 50)
        {
            if (chromium.IsCompleted) Assert.Fail($"Chromium ended before it loaded the page from v1:\n{(await chromium).Description}\nv1:\n{v1.Output}");
            Assert.True(waited < 60_000, $"Chromium did not load the page from v1 within 60 s\nv1:\n{v1.Output}");
            await Task.Delay(50, cancel);
        }

        await using SampleSiteProcess v2 = port.Start("v2", "ReuseportCbpf", environment: s_requestLog);
        await v2.WaitForStateAsync("Active");
        ChromiumRun run = await chromium.WaitAsync(TimeSpan.FromSeconds(60), cancel);

        string context = $"{run.Description}\nv1:\n{v1.Output}\nv2:\n{v2.Output}";
        Assert.True(run.ExitCode == 0, context);
        Assert.Contains("<title>AspNetQuicSteer rollover probe</title>", run.Dom, StringComparison.Ordinal);
        Match outcome = OutcomePattern().Match(run.Dom);
        Assert.True(outcome.Success, "the probe's script did not finish\n" + context);
        TestContext.Current.TestOutputHelper?.WriteLine($"probe: {outcome.Value}\n{LoadsPattern().Match(run.Dom).Groups[1].Value}");

        // Every load succeeded over HTTP/3 as both ends saw it (RFC 9114 §3.1: ALPN h3; nextHopProtocol "h3").
        string[] loads = LoadsPattern().Match(run.Dom).Groups[1].Value.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("0", outcome.Groups["failures"].Value);
        Assert.All(loads, load => Assert.Matches(@"^\d+ \d+ 200 v[12] HTTP/3 h3$", load));

        // v1 first, then v2, never back: once v1's GOAWAY moved Chromium to a connection on v2, every load shows v2.
        string[] versions = [.. loads.Select(load => load.Split(' ')[3])];
        int firstV2 = Array.IndexOf(versions, "v2");
        Assert.True(firstV2 >= 3, $"expected loads from v1 first: {string.Join(' ', versions)}");
        Assert.All(versions[..firstV2], v => Assert.Equal("v1", v));
        Assert.All(versions[firstV2..], v => Assert.Equal("v2", v));
        Assert.Equal(LoadsOfV2, versions.Length - firstV2);

        // After the rollover a fresh navigation to "/" shows the new version, navigated over h3.
        Assert.Contains("<span id=\"final-version\">v2</span>", run.Dom, StringComparison.Ordinal);
        Assert.Contains("<span id=\"final-protocol\">h3</span>", run.Dom, StringComparison.Ordinal);
        Assert.Contains($"Request finished HTTP/3 GET https://{authority}/?final", v2.Output, StringComparison.Ordinal);
    }

    private static int Count(string text, string value)
    {
        int count = 0;
        for (int at = text.IndexOf(value, StringComparison.Ordinal); at >= 0; at = text.IndexOf(value, at + value.Length, StringComparison.Ordinal)) count++;
        return count;
    }

    [GeneratedRegex("loads=\\d+ failures=(?<failures>\\d+) seen=\\d+ ms=\\d+")]
    private static partial Regex OutcomePattern();

    [GeneratedRegex("<pre id=\"loads\">([^<]*)</pre>")]
    private static partial Regex LoadsPattern();
}
