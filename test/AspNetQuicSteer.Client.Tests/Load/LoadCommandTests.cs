using System.Net;
using System.Text.Json;
using AspNetQuicSteer.LoadTool;

namespace AspNetQuicSteer.Client.Tests.Load;

/// <summary>The command without a server: usage, exit codes, the HTTP/3 wiring, failure kinds through an injected handler.</summary>
public sealed class LoadCommandTests
{
    [Fact]
    public async Task Help_PrintsUsage_Exit0()
    {
        StringWriter stdout = new();
        int exitCode = await LoadCommand.RunAsync(["--help"], stdout, new StringWriter(), TestContext.Current.CancellationToken);

        Assert.Equal(0, exitCode);
        Assert.StartsWith("Usage: quicsteer-load <url> [options]", stdout.ToString(), StringComparison.Ordinal);
        Assert.Contains("--group-by-header", stdout.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--bogus", "unknown option --bogus")]
    [InlineData("-c", "--connections needs a value")]
    [InlineData("https://localhost/ -c 0", "--connections")]
    [InlineData("https://localhost/ -d 1s -n 5", "exclude each other")]
    [InlineData("", "the URL is missing")]
    public async Task UsageErrors_Exit2WithMessage(string commandLine, string message)
    {
        StringWriter stderr = new();
        string[] args = commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        int exitCode = await LoadCommand.RunAsync(args, new StringWriter(), stderr, TestContext.Current.CancellationToken);

        Assert.Equal(2, exitCode);
        Assert.Contains(message, stderr.ToString(), StringComparison.Ordinal);
        Assert.Contains("--help", stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Http3_UsesOurHandler_FailuresGiveExit1()
    {
        // Nothing listens on port 1. Until the handler is implemented its SendAsync throws (other); then the
        // handshake fails or times out. Either way: failures, exit code 1, and no crash collecting statistics.
        StringWriter stdout = new();
        int exitCode = await LoadCommand.RunAsync(
            ["https://127.0.0.1:1/", "-n", "2", "--timeout", "1s", "--insecure", "--quiet", "--json", "-"],
            stdout,
            new StringWriter(),
            TestContext.Current.CancellationToken);

        Assert.Equal(1, exitCode);
        using JsonDocument json = JsonDocument.Parse(stdout.ToString());
        Assert.Equal("3", json.RootElement.GetProperty("httpVersion").GetString());
        Assert.Equal(2, json.RootElement.GetProperty("failures").GetProperty("total").GetInt64());
    }

    [Fact]
    public void Http3HandlerOptions_FollowTheCommandLine()
    {
        LoadOptions options = Parse("https://localhost/ --new-connection-per-request --timeout 5s --insecure");
        using QuicSteeringHttp3Handler handler = HandlerFactory.CreateHttp3(options, trustedRoots: null);

        Assert.Equal(1, handler.Options.MaxConnectionsPerOrigin);
        Assert.Equal(1, handler.Options.MaxRequestsPerConnection);
        Assert.Equal(TimeSpan.FromSeconds(5), handler.Options.ResponseHeadersTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), handler.Options.ReadIdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), handler.Options.ConnectTimeout);
        Assert.NotNull(handler.Options.ServerCertificateCustomValidationCallback);

        LoadOptions reuse = Parse("https://localhost/");
        using QuicSteeringHttp3Handler pooled = HandlerFactory.CreateHttp3(reuse, trustedRoots: null);
        Assert.Equal(0, pooled.Options.MaxRequestsPerConnection);
        Assert.Null(pooled.Options.ServerCertificateCustomValidationCallback);
    }

    [Fact]
    public async Task InjectedHandler_TypedExceptions_AreCountedByKind()
    {
        int count = 0;
        Exception[] failures =
        [
            new Http3HandshakeException("handshake"),
            new Http3ProtocolException("protocol", 0x101),
            new Http3ConnectionResetException("reset"),
            new Http3TimeoutException("timeout"),
        ];

        StringWriter stdout = new();
        int exitCode = await LoadCommand.RunAsync(
            ["https://localhost/x", "-n", "10", "--quiet", "--json", "-"],
            stdout,
            new StringWriter(),
            _ => new FakeHandler(() =>
            {
                int n = Interlocked.Increment(ref count) - 1;
                return n < 8 ? throw failures[n % 4] : new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(new byte[10]) };
            }),
            TestContext.Current.CancellationToken);

        Assert.Equal(1, exitCode);
        using JsonDocument document = JsonDocument.Parse(stdout.ToString());
        JsonElement failuresJson = document.RootElement.GetProperty("failures");
        Assert.Equal(8, failuresJson.GetProperty("total").GetInt64());
        Assert.Equal(2, failuresJson.GetProperty("handshake").GetInt64());
        Assert.Equal(2, failuresJson.GetProperty("protocol").GetInt64());
        Assert.Equal(2, failuresJson.GetProperty("connectionReset").GetInt64());
        Assert.Equal(2, failuresJson.GetProperty("timeout").GetInt64());
        Assert.Equal(2, document.RootElement.GetProperty("requests").GetProperty("completed").GetInt64());
        Assert.Equal(20, document.RootElement.GetProperty("bytes").GetProperty("received").GetInt64());
        Assert.Equal(4, document.RootElement.GetProperty("failureExamples").GetArrayLength());
    }

    [Fact]
    public async Task Cancellation_StopsTheRun_WithASummary()
    {
        using CancellationTokenSource cancel = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cancel.CancelAfter(TimeSpan.FromMilliseconds(300));
        StringWriter stdout = new();
        int exitCode = await LoadCommand.RunAsync(
            ["https://localhost/x", "-d", "1m", "-m", "3", "--quiet", "--json", "-"],
            stdout,
            new StringWriter(),
            _ => new FakeHandler(async token =>
            {
                await Task.Delay(10, token);
                return new HttpResponseMessage(HttpStatusCode.OK);
            }),
            cancel.Token);

        Assert.Equal(0, exitCode);
        using JsonDocument document = JsonDocument.Parse(stdout.ToString());
        Assert.True(document.RootElement.GetProperty("interrupted").GetBoolean());
        Assert.InRange(document.RootElement.GetProperty("durationSeconds").GetDouble(), 0.2, 2);
        Assert.True(document.RootElement.GetProperty("requests").GetProperty("completed").GetInt64() > 0);
    }

    private static LoadOptions Parse(string commandLine)
    {
        LoadParseResult result = LoadOptionsParser.Parse(commandLine.Split(' '));
        Assert.Null(result.Error);
        return Assert.IsType<LoadOptions>(result.Options);
    }

    private sealed class FakeHandler : HttpMessageHandler
    {
        private readonly Func<CancellationToken, Task<HttpResponseMessage>> _respond;

        public FakeHandler(Func<HttpResponseMessage> respond)
        {
            _respond = _ => Task.FromResult(respond());
        }

        public FakeHandler(Func<CancellationToken, Task<HttpResponseMessage>> respond)
        {
            _respond = respond;
        }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Assert.Equal(HttpVersion.Version30, request.Version);
            Assert.Equal(HttpVersionPolicy.RequestVersionExact, request.VersionPolicy);
            return _respond(cancellationToken);
        }
    }
}
