using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Security.Authentication;
using AspNetQuicSteer.LoadTool;

namespace AspNetQuicSteer.Client.Tests.Load;

public sealed class BodyPatternTests
{
    [Theory]
    [InlineData(0L, 10)]
    [InlineData(250L, 1000)]
    [InlineData(1_000_003L, BodyPattern.BlockLength + 777)]
    [InlineData(7L, 3 * BodyPattern.BlockLength)]
    public void FindMismatch_AcceptsThePatternAtAnyOffset(long offset, int length)
    {
        byte[] data = Pattern(offset, length);
        Assert.Equal(-1, BodyPattern.FindMismatch(offset, data));

        data[length - 1] ^= 1;
        Assert.Equal(length - 1, BodyPattern.FindMismatch(offset, data));
        data[length / 3] ^= 1;
        Assert.Equal(length / 3, BodyPattern.FindMismatch(offset, data));
    }

    [Fact]
    public void Verifier_ChecksPatternLengthAndStatus()
    {
        byte[] body = Pattern(0, 5000);

        BodyVerifier ok = new(5000);
        ok.Append(body.AsSpan(0, 1234));
        ok.Append(body.AsSpan(1234));
        Assert.Null(ok.Complete(HttpStatusCode.OK));

        BodyVerifier shortBody = new(5001);
        shortBody.Append(body);
        Assert.Equal("body length 5000, expected 5001", shortBody.Complete(HttpStatusCode.OK));

        BodyVerifier longBody = new(4000);
        longBody.Append(body);
        Assert.Equal("body length 5000, expected 4000", longBody.Complete(HttpStatusCode.OK));

        body[4321] = 0;
        BodyVerifier wrong = new(5000);
        wrong.Append(body.AsSpan(0, 4000));
        wrong.Append(body.AsSpan(4000));
        Assert.Contains("byte 4321", wrong.Complete(HttpStatusCode.OK), StringComparison.Ordinal);

        BodyVerifier status = new(0);
        Assert.Equal("status 404, expected 2xx", status.Complete(HttpStatusCode.NotFound));
    }

    [Fact]
    public async Task PatternContent_StreamsTheLengthAndThePattern()
    {
        using PatternContent content = new(200_000);
        Assert.Equal(200_000, content.Headers.ContentLength);
        byte[] bytes = await content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken);
        Assert.Equal(Pattern(0, 200_000), bytes);
    }

    public static TheoryData<Exception, string> Exceptions => new()
    {
        { new Http3HandshakeException("no"), "handshake" },
        { new Http3ProtocolException("bad frame", 0x101), "protocol" },
        { new Http3ConnectionResetException("reset"), "connection-reset" },
        { new Http3TimeoutException("slow"), "timeout" },
        { new HttpRequestException("wrapped", new Http3ConnectionResetException("reset")), "connection-reset" },
        { new TimeoutException(), "timeout" },
        { new HttpRequestException(HttpRequestError.ConnectionError, "refused", new SocketException((int)SocketError.ConnectionRefused)), "handshake" },
        { new HttpRequestException(HttpRequestError.SecureConnectionError, "tls", new AuthenticationException()), "handshake" },
        { new HttpRequestException(HttpRequestError.NameResolutionError, "dns"), "handshake" },
        { new HttpRequestException(HttpRequestError.HttpProtocolError, "h2", new HttpProtocolException(0x2, "INTERNAL_ERROR", null)), "connection-reset" },
        { new HttpProtocolException(0x1, "PROTOCOL_ERROR", null), "protocol" },
        { new HttpRequestException(HttpRequestError.InvalidResponse, "garbage"), "protocol" },
        { new HttpIOException(HttpRequestError.ResponseEnded, "ended early"), "connection-reset" },
        { new IOException("broken pipe", new SocketException((int)SocketError.ConnectionReset)), "connection-reset" },
        { new IOException("something"), "connection-reset" },
        { new NotImplementedException(), "other" },
        { new HttpRequestException("unknown"), "other" },
    };

    [Theory]
    [MemberData(nameof(Exceptions))]
    public void Classify(Exception exception, string expected)
        => Assert.Equal(expected, FailureKinds.Name(FailureKinds.Classify(exception)));

    [Fact]
    public void Describe_IncludesTheCauses()
        => Assert.Equal(
            "HttpRequestException: outer ---> IOException: inner",
            FailureKinds.Describe(new HttpRequestException("outer", new IOException("inner"))));

    [Fact]
    public void ProgressLine_ShowsRates()
    {
        LoadProgress previous = new(TimeSpan.FromSeconds(1), false, 100, 0, 1_000_000, 0);
        LoadProgress current = new(TimeSpan.FromSeconds(2), false, 600, 3, 6_000_000, 0);
        Assert.Equal("[    2.0s] 600 done, 500.0 req/s, 5.00 MB/s in, 0.00 MB/s out, 3 failed", ProgressReporter.Format(current, previous));
        Assert.Equal("[    0.5s] warm-up", ProgressReporter.Format(current with { Elapsed = TimeSpan.FromSeconds(0.5), WarmingUp = true }, default));
    }

    private static byte[] Pattern(long offset, int length)
    {
        byte[] data = new byte[length];
        for (int i = 0; i < length; i++)
        {
            data[i] = (byte)((offset + i) % 251);
        }

        return data;
    }
}
