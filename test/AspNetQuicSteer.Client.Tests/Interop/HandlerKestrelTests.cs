using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace AspNetQuicSteer.Client.Tests.Interop;

/// <summary>The handler against Kestrel on our transport: trailers, cancellation and early disposal (RFC 9114 §4.1).</summary>
[Collection(HandlerInteropGroup.Name)]
public sealed class HandlerKestrelTests
{
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    /// <summary>RFC 9114 §4.1: a trailer section (a HEADERS frame after the DATA) lands in TrailingHeaders.</summary>
    [Fact]
    public async Task Trailers_arrive_in_TrailingHeaders()
    {
        await using KestrelHttp3Server server = await KestrelHttp3Server.StartAsync(app => app.MapGet("/trailers", async (HttpContext context) =>
        {
            context.Response.DeclareTrailer("x-checksum");
            await context.Response.WriteAsync("body", context.RequestAborted);
            context.Response.AppendTrailer("x-checksum", "abc123");
        }));
        using var client = new HttpClient(new QuicSteeringHttp3Handler(new QuicSteeringHttp3HandlerOptions
        {
            ServerCertificateCustomValidationCallback = static (_, _, _, _) => true,
        }));

        using HttpResponseMessage response = await client.GetAsync($"{server.BaseUrl}/trailers", Cancellation);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("body", await response.Content.ReadAsStringAsync(Cancellation));
        Assert.Equal(["abc123"], response.TrailingHeaders.GetValues("x-checksum"));
    }

    /// <summary>
    /// RFC 9114 §4.1.1: a cancelled request resets its stream with H3_REQUEST_CANCELLED; the server's request sees
    /// RequestAborted, and the connection keeps serving.
    /// </summary>
    [Fact]
    public async Task Cancelling_a_request_resets_its_stream_and_aborts_the_server_request()
    {
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using KestrelHttp3Server server = await KestrelHttp3Server.StartAsync(app => app.MapGet("/hang", async (HttpContext context) =>
        {
            context.RequestAborted.Register(() => aborted.TrySetResult());
            started.TrySetResult();
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        }));
        using var handler = new QuicSteeringHttp3Handler(new QuicSteeringHttp3HandlerOptions
        {
            ServerCertificateCustomValidationCallback = static (_, _, _, _) => true,
        });
        using var client = new HttpClient(handler);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Cancellation);

        Task<HttpResponseMessage> request = client.GetAsync($"{server.BaseUrl}/hang", cancel.Token);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10), Cancellation);
        var stopwatch = Stopwatch.StartNew();
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(2), $"cancellation took {stopwatch.Elapsed}");
        await aborted.Task.WaitAsync(TimeSpan.FromSeconds(5), Cancellation);

        using HttpResponseMessage next = await client.GetAsync($"{server.BaseUrl}/bytes/10", Cancellation);
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.Equal(1, handler.GetStatistics().ConnectionsOpened);
    }

    /// <summary>RFC 9114 §4.1.1: disposing a response before its end cancels the stream; the server stops writing.</summary>
    [Fact]
    public async Task Disposing_a_response_early_aborts_the_server_response()
    {
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using KestrelHttp3Server server = await KestrelHttp3Server.StartAsync(app => app.MapGet("/endless", async (HttpContext context) =>
        {
            context.RequestAborted.Register(() => aborted.TrySetResult());
            byte[] chunk = new byte[16 * 1024];
            while (!context.RequestAborted.IsCancellationRequested)
            {
                await context.Response.Body.WriteAsync(chunk, context.RequestAborted);
            }
        }));
        using var client = new HttpClient(new QuicSteeringHttp3Handler(new QuicSteeringHttp3HandlerOptions
        {
            ServerCertificateCustomValidationCallback = static (_, _, _, _) => true,
        }));

        using (HttpResponseMessage response = await client.GetAsync($"{server.BaseUrl}/endless", HttpCompletionOption.ResponseHeadersRead, Cancellation))
        {
            await using Stream body = await response.Content.ReadAsStreamAsync(Cancellation);
            byte[] buffer = new byte[100_000];
            int total = 0;
            while (total < 200_000) total += await body.ReadAsync(buffer, Cancellation);
        }

        await aborted.Task.WaitAsync(TimeSpan.FromSeconds(5), Cancellation);
    }
}
