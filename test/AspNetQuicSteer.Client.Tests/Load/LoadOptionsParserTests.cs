using AspNetQuicSteer.LoadTool;

namespace AspNetQuicSteer.Client.Tests.Load;

public sealed class LoadOptionsParserTests
{
    [Theory]
    [InlineData("10s", 10_000.0)]
    [InlineData("500ms", 500.0)]
    [InlineData("1m", 60_000.0)]
    [InlineData("2min", 120_000.0)]
    [InlineData("1h", 3_600_000.0)]
    [InlineData("24h", 86_400_000.0)]
    [InlineData("1.5s", 1_500.0)]
    [InlineData("2", 2_000.0)]
    [InlineData("250us", 0.25)]
    [InlineData("0", 0.0)]
    [InlineData(" 3s ", 3_000.0)]
    public void Durations(string text, double milliseconds)
    {
        Assert.True(LoadOptionsParser.TryParseDuration(text, out TimeSpan value));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("s")]
    [InlineData("10x")]
    [InlineData("-1s")]
    [InlineData("1e3s")]
    [InlineData("1,5s")]
    [InlineData("10 s")]
    [InlineData("9999999h")]
    [InlineData("24.5h")]
    public void InvalidDurations(string text)
        => Assert.False(LoadOptionsParser.TryParseDuration(text, out _));

    [Theory]
    [InlineData("0", 0L)]
    [InlineData("1024", 1024L)]
    [InlineData("100B", 100L)]
    [InlineData("64K", 65_536L)]
    [InlineData("2k", 2_048L)]
    [InlineData("1KiB", 1_024L)]
    [InlineData("10M", 10_485_760L)]
    [InlineData("10m", 10_485_760L)]
    [InlineData("3MiB", 3_145_728L)]
    [InlineData("1G", 1_073_741_824L)]
    [InlineData("1GiB", 1_073_741_824L)]
    public void Sizes(string text, long bytes)
    {
        Assert.Null(LoadOptionsParser.TryParseSize(text, out long value));
        Assert.Equal(bytes, value);
    }

    [Theory]
    [InlineData("10MB", "ambiguous")]
    [InlineData("1kB", "ambiguous")]
    [InlineData("-1", "not a size")]
    [InlineData("1.5M", "not a size")]
    [InlineData("K", "not a size")]
    [InlineData("abc", "not a size")]
    [InlineData("10T", "not a size")]
    [InlineData("99999999999999999999", "not a size")]
    [InlineData("9000000000G", "not a size")]
    public void InvalidSizes(string text, string message)
        => Assert.Contains(message, LoadOptionsParser.TryParseSize(text, out _), StringComparison.Ordinal);

    [Fact]
    public void Defaults()
    {
        LoadOptions options = Parse("https://example.com/");
        Assert.Equal(new Uri("https://example.com/"), options.Url);
        Assert.Equal(1, options.Connections);
        Assert.Equal(1, options.Streams);
        Assert.Equal(TimeSpan.FromSeconds(10), options.Duration);
        Assert.Null(options.Requests);
        Assert.Equal(TimeSpan.Zero, options.Warmup);
        Assert.Equal(HttpMethod.Get, options.Method);
        Assert.Equal(TimeSpan.FromSeconds(30), options.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(1), options.ProgressInterval);
        Assert.Equal(LoadHttpVersion.Http3, options.HttpVersion);
        Assert.Null(options.VerifyLength);
        Assert.Null(options.JsonPath);
        Assert.Null(options.TimelineInterval);
        Assert.False(options.NewConnectionPerRequest);
        Assert.Empty(options.Headers);
    }

    [Fact]
    public void AllForms()
    {
        LoadOptions options = Parse(
            "-c4 --streams=8 -n 1000 --warmup 1s --new-connection-per-request --timeout 2s --progress 250ms "
            + "-H x-a:1 --header=x-b:2 --json=out.json --timeline 100ms --group-by-header x-app-version --http-version 2 "
            + "--insecure https://example.com/bytes/{size} --download-size 1K --verify");

        Assert.Equal(4, options.Connections);
        Assert.Equal(8, options.Streams);
        Assert.Equal(1000, options.Requests);
        Assert.Null(options.Duration);
        Assert.Equal(TimeSpan.FromSeconds(1), options.Warmup);
        Assert.True(options.NewConnectionPerRequest);
        Assert.Equal(TimeSpan.FromSeconds(2), options.Timeout);
        Assert.Equal(TimeSpan.FromMilliseconds(250), options.ProgressInterval);
        Assert.Equal([new("x-a", "1"), new("x-b", "2")], options.Headers);
        Assert.Equal("out.json", options.JsonPath);
        Assert.Equal(TimeSpan.FromMilliseconds(100), options.TimelineInterval);
        Assert.Equal("x-app-version", options.GroupByHeader);
        Assert.Equal(LoadHttpVersion.Http2, options.HttpVersion);
        Assert.True(options.Insecure);
        Assert.Equal(new Uri("https://example.com/bytes/1024"), options.Url);
        Assert.Equal(1024, options.DownloadSize);
        Assert.Equal(1024, options.VerifyLength);
    }

    [Fact]
    public void UploadSize_ImpliesPost_AndVerifyOfEchoExpectsTheUpload()
    {
        LoadOptions options = Parse("https://example.com/echo --upload-size 64K --verify");
        Assert.Equal(HttpMethod.Post, options.Method);
        Assert.True(options.HasBody);
        Assert.Equal(65_536, options.UploadSize);
        Assert.Equal(65_536, options.VerifyLength);
    }

    [Fact]
    public void QuietDisablesProgress()
        => Assert.Null(Parse("https://example.com/ --quiet").ProgressInterval);

    [Fact]
    public void HelpWinsAnywhere()
    {
        Assert.True(LoadOptionsParser.Parse(["https://example.com/", "-c", "2", "-h"]).HelpRequested);
        Assert.True(LoadOptionsParser.Parse(["--help"]).HelpRequested);
    }

    [Theory]
    [InlineData("", "the URL is missing")]
    [InlineData("https://a/ https://b/", "only one URL")]
    [InlineData("https://a/ --frobnicate", "unknown option --frobnicate")]
    [InlineData("https://a/ -c", "--connections needs a value")]
    [InlineData("https://a/ -c 0", "--connections")]
    [InlineData("https://a/ -m -1", "--streams")]
    [InlineData("https://a/ -c 2 -c 3", "given twice")]
    [InlineData("https://a/ -c 1000 -m 1000", "more than 100000")]
    [InlineData("https://a/ -n 0", "--requests")]
    [InlineData("https://a/ -n 10 -d 1s", "exclude each other")]
    [InlineData("https://a/ -d 0s", "--duration")]
    [InlineData("https://a/ -d soon", "--duration")]
    [InlineData("https://a/ --warmup x", "--warmup")]
    [InlineData("https://a/ --timeout 0", "--timeout")]
    [InlineData("https://a/ --method PUT", "not GET or POST")]
    [InlineData("https://a/ --method GET --upload-size 10", "needs --method POST")]
    [InlineData("https://a/ --upload-size 10MB", "ambiguous")]
    [InlineData("https://a/ --http-version 4", "not 3, 2 or 1.1")]
    [InlineData("https://a/ -H novalue", "not 'name: value'")]
    [InlineData("https://a/ -H bad@name:1", "not a header name")]
    [InlineData("https://a/ --group-by-header x-app-version", "needs --timeline")]
    [InlineData("https://a/ --timeline 100us", "at least 1ms")]
    [InlineData("https://a/ --verify", "--verify needs")]
    [InlineData("https://a/bytes/10 --verify --method POST", "--verify needs")]
    [InlineData("https://a/bytes/{size}", "give --download-size")]
    [InlineData("http://a/", "HTTP/3 needs an https URL")]
    [InlineData("ftp://a/ --http-version 2", "not an absolute http or https URL")]
    [InlineData("a/b", "not an absolute http or https URL")]
    [InlineData("https://a/ --ca /nonexistent/ca.pem", "not found")]
    [InlineData("https://a/ --insecure --insecure", "given twice")]
    [InlineData("https://a/ --verify=yes", "takes no value")]
    public void Errors(string commandLine, string message)
    {
        LoadParseResult result = LoadOptionsParser.Parse(commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Null(result.Options);
        Assert.False(result.HelpRequested);
        Assert.Contains(message, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void HttpUrl_IsAllowedForTcpVersions()
        => Assert.Equal(LoadHttpVersion.Http11, Parse("http://a/ --http-version 1.1").HttpVersion);

    [Fact]
    public void DoubleDash_EndsOptions()
        => Assert.Equal(new Uri("https://a/-x"), Parse("-c 2 -- https://a/-x").Url);

    private static LoadOptions Parse(string commandLine)
    {
        LoadParseResult result = LoadOptionsParser.Parse(commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Null(result.Error);
        return Assert.IsType<LoadOptions>(result.Options);
    }
}
