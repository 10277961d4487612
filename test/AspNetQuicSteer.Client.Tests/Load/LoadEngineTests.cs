using System.Diagnostics;
using System.Text.Json;
using AspNetQuicSteer.LoadTool;

namespace AspNetQuicSteer.Client.Tests.Load;

/// <summary>
/// The whole command (parse, engine, summary, JSON, exit code) against a real Kestrel server over HTTP/2 and
/// HTTP/1.1 with SocketsHttpHandler, the way the tool runs until QuicSteeringHttp3Handler is implemented.
/// </summary>
public sealed class LoadEngineTests(LoadTestServer server) : IClassFixture<LoadTestServer>
{
    private static readonly string[] s_h2 = ["--http-version", "2", "--insecure", "--quiet", "--json", "-"];

    [Fact]
    public async Task Bytes_WithVerify_CompletesEveryRequestAndWritesJson()
    {
        long connectionsBefore = server.Connections;
        (int exitCode, JsonElement json, string text) = await RunJsonAsync(
            [$"{server.BaseUrl}/bytes/{{size}}", "--download-size", "5000", "-n", "200", "-c", "2", "-m", "4", "--verify", .. s_h2]);

        Assert.Equal(0, exitCode);
        Assert.Equal(2, server.Connections - connectionsBefore); // -c 2: one connection per handler
        Assert.Equal("quicsteer-load", json.GetProperty("tool").GetString());
        Assert.Equal($"{server.BaseUrl}/bytes/5000", json.GetProperty("url").GetString());
        Assert.Equal("2", json.GetProperty("httpVersion").GetString());
        Assert.Equal("GET", json.GetProperty("method").GetString());
        Assert.Equal(2, json.GetProperty("connections").GetInt32());
        Assert.Equal(4, json.GetProperty("streamsPerConnection").GetInt32());
        Assert.Equal(5000, json.GetProperty("downloadSize").GetInt64());

        JsonElement requests = json.GetProperty("requests");
        Assert.Equal(200, requests.GetProperty("started").GetInt64());
        Assert.Equal(200, requests.GetProperty("completed").GetInt64());
        Assert.Equal(0, requests.GetProperty("failed").GetInt64());
        Assert.Equal(0, requests.GetProperty("aborted").GetInt64());
        Assert.Equal(200, json.GetProperty("statusCodes").GetProperty("200").GetInt64());
        Assert.True(json.GetProperty("requestsPerSecond").GetDouble() > 0);
        Assert.True(json.GetProperty("durationSeconds").GetDouble() > 0);

        JsonElement bytes = json.GetProperty("bytes");
        Assert.Equal(200 * 5000, bytes.GetProperty("received").GetInt64());
        Assert.Equal(0, bytes.GetProperty("sent").GetInt64());
        Assert.True(bytes.GetProperty("receivedMegabytesPerSecond").GetDouble() > 0);

        JsonElement latency = json.GetProperty("latencyMs");
        Assert.Equal(200, latency.GetProperty("count").GetInt64());
        double p50 = latency.GetProperty("p50").GetDouble();
        Assert.True(p50 > 0);
        Assert.True(p50 <= latency.GetProperty("p90").GetDouble());
        Assert.True(latency.GetProperty("p90").GetDouble() <= latency.GetProperty("p99").GetDouble());
        Assert.True(latency.GetProperty("p99").GetDouble() <= latency.GetProperty("p999").GetDouble());
        Assert.True(latency.GetProperty("p999").GetDouble() <= latency.GetProperty("max").GetDouble());
        Assert.True(latency.GetProperty("min").GetDouble() <= latency.GetProperty("mean").GetDouble());
        Assert.Equal(200, json.GetProperty("headersLatencyMs").GetProperty("count").GetInt64());

        JsonElement failures = json.GetProperty("failures");
        foreach (string kind in new[] { "total", "handshake", "protocol", "connectionReset", "timeout", "verify", "other" })
        {
            Assert.Equal(0, failures.GetProperty(kind).GetInt64());
        }

        Assert.Equal(0, json.GetProperty("failureExamples").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("handler").ValueKind);
        Assert.Equal(JsonValueKind.Null, json.GetProperty("timeline").ValueKind);

        // With --json - the text summary goes to stderr.
        Assert.Contains("200 completed", text, StringComparison.Ordinal);
        Assert.Contains("1 MB = 10^6 bytes", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EchoUpload_WithVerify_SendsAndReceivesTheBody()
    {
        (int exitCode, JsonElement json, _) = await RunJsonAsync(
            [$"{server.BaseUrl}/echo", "--upload-size", "100K", "-n", "30", "-c", "1", "-m", "3", "--verify", "-H", "content-type: application/octet-stream", "-H", "x-test: 1", .. s_h2]);

        Assert.Equal(0, exitCode);
        Assert.Equal("POST", json.GetProperty("method").GetString());
        Assert.Equal(30, json.GetProperty("requests").GetProperty("completed").GetInt64());
        Assert.Equal(30 * 102_400, json.GetProperty("bytes").GetProperty("sent").GetInt64());
        Assert.Equal(30 * 102_400, json.GetProperty("bytes").GetProperty("received").GetInt64());
    }

    [Fact]
    public async Task Http11_WithVerify_Works()
    {
        (int exitCode, JsonElement json, _) = await RunJsonAsync(
            [$"{server.BaseUrl}/bytes/70000", "-n", "30", "-c", "2", "-m", "3", "--verify", "--http-version", "1.1", "--insecure", "--quiet", "--json", "-"]);

        Assert.Equal(0, exitCode);
        Assert.Equal("1.1", json.GetProperty("httpVersion").GetString());
        Assert.Equal(30, json.GetProperty("requests").GetProperty("completed").GetInt64());
    }

    [Fact]
    public async Task TrustedRootFromCaFile_IsAccepted()
    {
        using Quic.Tests.Interop.TempDirectory directory = new();
        string ca = directory.Combine("ca.pem");
        await File.WriteAllTextAsync(ca, server.CertificatePem, TestContext.Current.CancellationToken);
        string jsonFile = directory.Combine("summary.json");

        StringWriter stdout = new();
        int exitCode = await LoadCommand.RunAsync(
            [$"{server.BaseUrl}/bytes/10", "-n", "5", "--http-version", "2", "--ca", ca, "--quiet", "--json", jsonFile],
            stdout,
            new StringWriter(),
            TestContext.Current.CancellationToken);

        Assert.Equal(0, exitCode);
        Assert.Contains("5 completed", stdout.ToString(), StringComparison.Ordinal);
        using JsonDocument document = JsonDocument.Parse(await File.ReadAllTextAsync(jsonFile, TestContext.Current.CancellationToken));
        Assert.Equal(5, document.RootElement.GetProperty("requests").GetProperty("completed").GetInt64());
    }

    [Fact]
    public async Task AbortedResponses_AreConnectionResetFailures_ExitCode1()
    {
        (int exitCode, JsonElement json, string text) = await RunJsonAsync([$"{server.BaseUrl}/fail", "-n", "20", "-c", "1", "-m", "2", .. s_h2]);

        Assert.Equal(1, exitCode);
        JsonElement failures = json.GetProperty("failures");
        Assert.Equal(20, failures.GetProperty("total").GetInt64());
        Assert.Equal(20, failures.GetProperty("connectionReset").GetInt64());
        Assert.Equal(20, json.GetProperty("requests").GetProperty("failed").GetInt64());
        Assert.Equal(0, json.GetProperty("requests").GetProperty("completed").GetInt64());
        JsonElement example = Assert.Single(json.GetProperty("failureExamples").EnumerateArray());
        Assert.Equal("connection-reset", example.GetProperty("kind").GetString());
        Assert.Contains("connection-reset 20", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ErrorStatuses_AreCountedNotFailures()
    {
        (int exitCode, JsonElement json, _) = await RunJsonAsync([$"{server.BaseUrl}/status/503", "-n", "10", "-m", "2", .. s_h2]);

        Assert.Equal(0, exitCode);
        Assert.Equal(10, json.GetProperty("statusCodes").GetProperty("503").GetInt64());
        Assert.Equal(10, json.GetProperty("requests").GetProperty("completed").GetInt64());
        Assert.Equal(0, json.GetProperty("failures").GetProperty("total").GetInt64());
    }

    [Fact]
    public async Task CorruptBody_IsVerifyFailure()
    {
        (int exitCode, JsonElement json, _) = await RunJsonAsync([$"{server.BaseUrl}/corrupt/bytes/1000", "-n", "6", "--verify", .. s_h2]);

        Assert.Equal(1, exitCode);
        Assert.Equal(6, json.GetProperty("failures").GetProperty("verify").GetInt64());
        JsonElement example = Assert.Single(json.GetProperty("failureExamples").EnumerateArray());
        Assert.Contains("byte 500", example.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SlowResponse_IsTimeoutFailure()
    {
        Stopwatch clock = Stopwatch.StartNew();
        (int exitCode, JsonElement json, _) = await RunJsonAsync([$"{server.BaseUrl}/slow/5000", "-n", "2", "-m", "2", "--timeout", "200ms", .. s_h2]);

        Assert.Equal(1, exitCode);
        Assert.Equal(2, json.GetProperty("failures").GetProperty("timeout").GetInt64());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task Duration_StopsByItself()
    {
        Stopwatch clock = Stopwatch.StartNew();
        (int exitCode, JsonElement json, _) = await RunJsonAsync([$"{server.BaseUrl}/bytes/100", "-d", "1s", "-c", "1", "-m", "2", .. s_h2]);
        TimeSpan elapsed = clock.Elapsed;

        Assert.Equal(0, exitCode);
        Assert.True(elapsed < TimeSpan.FromSeconds(3), $"took {elapsed}");
        Assert.True(json.GetProperty("requestsPerSecond").GetDouble() > 0);
        Assert.InRange(json.GetProperty("durationSeconds").GetDouble(), 0.9, 1.5);
        JsonElement requests = json.GetProperty("requests");
        Assert.Equal(
            requests.GetProperty("started").GetInt64(),
            requests.GetProperty("completed").GetInt64() + requests.GetProperty("failed").GetInt64() + requests.GetProperty("aborted").GetInt64());
    }

    [Fact]
    public async Task Warmup_IsExcluded_AndProgressIsReported()
    {
        StringWriter stdout = new();
        StringWriter stderr = new();
        int exitCode = await LoadCommand.RunAsync(
            [$"{server.BaseUrl}/bytes/100", "-d", "600ms", "--warmup", "300ms", "--progress", "100ms", "--http-version", "2", "--insecure", "--json", "-"],
            stdout,
            TextWriter.Synchronized(stderr),
            TestContext.Current.CancellationToken);

        Assert.Equal(0, exitCode);
        using JsonDocument document = JsonDocument.Parse(stdout.ToString());
        JsonElement json = document.RootElement;
        Assert.Equal(0.3, json.GetProperty("warmupSeconds").GetDouble());
        Assert.True(json.GetProperty("requests").GetProperty("warmup").GetInt64() > 0);
        Assert.True(json.GetProperty("requests").GetProperty("completed").GetInt64() > 0);
        Assert.InRange(json.GetProperty("durationSeconds").GetDouble(), 0.5, 1.0);
        string progress = stderr.ToString();
        Assert.Contains("warm-up", progress, StringComparison.Ordinal);
        Assert.Contains("req/s", progress, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Timeline_GroupedByHeader_SumsToCompleted()
    {
        (int exitCode, JsonElement json, _) = await RunJsonAsync(
            [$"{server.BaseUrl}/bytes/1000", "-n", "200", "-c", "2", "-m", "4", "--timeline", "100ms", "--group-by-header", "x-app-version", .. s_h2]);

        Assert.Equal(0, exitCode);
        JsonElement timeline = json.GetProperty("timeline");
        Assert.Equal(100, timeline.GetProperty("bucketMilliseconds").GetDouble());
        Assert.Equal("x-app-version", timeline.GetProperty("groupByHeader").GetString());
        string?[] groups = [.. timeline.GetProperty("groups").EnumerateArray().Select(g => g.GetString())];
        Assert.Equal(["v1", "v2"], groups.Order());

        long completed = 0;
        long[] perGroup = new long[groups.Length];
        int index = 0;
        foreach (JsonElement bucket in timeline.GetProperty("buckets").EnumerateArray())
        {
            Assert.Equal(index++ * 100.0, bucket.GetProperty("startMilliseconds").GetDouble());
            long bucketCompleted = bucket.GetProperty("completed").GetInt64();
            long[] counts = [.. bucket.GetProperty("groups").EnumerateArray().Select(c => c.GetInt64())];
            Assert.Equal(groups.Length, counts.Length);
            Assert.Equal(bucketCompleted, counts.Sum());
            Assert.Equal(0, bucket.GetProperty("failed").GetInt64());
            completed += bucketCompleted;
            for (int g = 0; g < counts.Length; g++)
            {
                perGroup[g] += counts[g];
            }
        }

        Assert.Equal(200, completed);
        Assert.Equal(json.GetProperty("requests").GetProperty("completed").GetInt64(), completed);

        // The server alternates the header, so both versions carry about half.
        Assert.All(perGroup, count => Assert.InRange(count, 90, 110));
    }

    [Fact]
    public async Task NewConnectionPerRequest_OpensAConnectionPerRequest()
    {
        long connectionsBefore = server.Connections;
        (int exitCode, JsonElement json, _) = await RunJsonAsync([$"{server.BaseUrl}/bytes/10", "-n", "10", "--new-connection-per-request", .. s_h2]);

        Assert.Equal(0, exitCode);
        Assert.Equal(10, server.Connections - connectionsBefore);
        Assert.True(json.GetProperty("newConnectionPerRequest").GetBoolean());
        Assert.Equal(10, json.GetProperty("requests").GetProperty("completed").GetInt64());
    }

    private static async Task<(int ExitCode, JsonElement Json, string Text)> RunJsonAsync(string[] args)
    {
        StringWriter stdout = new();
        StringWriter stderr = new();
        int exitCode = await LoadCommand.RunAsync(args, stdout, TextWriter.Synchronized(stderr), TestContext.Current.CancellationToken);
        using JsonDocument document = JsonDocument.Parse(stdout.ToString());
        return (exitCode, document.RootElement.Clone(), stderr.ToString());
    }
}
