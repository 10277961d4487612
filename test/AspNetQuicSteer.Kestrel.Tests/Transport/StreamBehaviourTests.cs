using AspNetQuicSteer.Quic.Tests.Interop;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace AspNetQuicSteer.Kestrel.Tests.Transport;

/// <summary>
/// Kestrel's stream-level outcomes on the wire: its HTTP/3 error codes become RESET_STREAM / STOP_SENDING codes
/// (RFC 9114 §8.1, RFC 9000 §3), peer resets reach the application, stream limits become MAX_STREAMS, and an
/// application that does not read stops the client by flow control (RFC 9000 §4.1).
/// </summary>
public sealed class StreamBehaviourTests : IDisposable
{
    private readonly TestCertificate _certificate = TestCertificates.CreateEcdsaP256();

    public void Dispose() => _certificate.Dispose();

    [Fact]
    public async Task ResetFeature_ResetsTheStreamWithTheApplicationsCode()
    {
        await using TransportTestHost host = await TransportTestHost.StartAsync(lo => lo.UseHttps(_certificate.Certificate), app =>
            app.MapGet("/reset", (HttpContext c) => c.Features.GetRequiredFeature<IHttpResetFeature>().Reset(0x10C)));
        await using MinimalHttp3Client client = await MinimalHttp3Client.ConnectAsync(host.QuicEndPoint, "localhost");

        Http3StreamResetException reset = await Assert.ThrowsAsync<Http3StreamResetException>(() => client.SendAsync("GET", "localhost", "/reset"));
        Assert.Equal(0x10CUL, reset.Code); // H3_REQUEST_CANCELLED
    }

    [Fact]
    public async Task ApplicationAbort_ResetsTheStreamAndTheConnectionSurvives()
    {
        await using TransportTestHost host = await TransportTestHost.StartAsync(lo => lo.UseHttps(_certificate.Certificate), app =>
        {
            app.MapGet("/abort", (HttpContext c) => c.Abort());
            app.MapGet("/ok", () => "ok");
        });
        await using MinimalHttp3Client client = await MinimalHttp3Client.ConnectAsync(host.QuicEndPoint, "localhost");

        Http3StreamResetException reset = await Assert.ThrowsAsync<Http3StreamResetException>(() => client.SendAsync("GET", "localhost", "/abort"));
        Assert.Equal(0x102UL, reset.Code); // H3_INTERNAL_ERROR for HttpContext.Abort (RFC 9114 §8.1)
        Assert.Equal("ok", (await client.SendAsync("GET", "localhost", "/ok")).BodyText);
    }

    [Fact]
    public async Task PeerResetOfTheRequestStream_AbortsTheRequest()
    {
        var observed = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using TransportTestHost host = await TransportTestHost.StartAsync(lo => lo.UseHttps(_certificate.Certificate), app =>
            app.MapPost("/upload", async (HttpContext c) =>
            {
                try
                {
                    await c.Request.Body.CopyToAsync(Stream.Null, c.RequestAborted);
                    observed.TrySetResult("completed");
                }
                catch (Exception e)
                {
                    observed.TrySetResult($"{e.GetType().Name} aborted={c.RequestAborted.IsCancellationRequested}");
                }
            }));
        await using MinimalHttp3Client client = await MinimalHttp3Client.ConnectAsync(host.QuicEndPoint, "localhost");

        byte[] headers = MinimalHttp3Client.EncodeRequestBytes("POST", "localhost", "/upload");
        byte[] partial = [.. headers, .. MinimalHttp3Client.DataFrameHeader(1_000_000), .. new byte[10_000]];
        ulong stream = await client.InvokeAsync(c =>
        {
            Assert.True(c.TryOpenStream(bidirectional: true, out ulong id));
            Assert.Equal(partial.Length, c.WriteStream(id, partial, fin: false));
            return id;
        });
        await Task.Delay(200, TestContext.Current.CancellationToken); // let the request start and block on the body
        await client.InvokeAsync(c =>
        {
            c.ResetStream(stream, 0x10C); // RFC 9000 §3.1: the client abandons the request
            return true;
        });

        string outcome = await observed.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.NotEqual("completed", outcome);
        Assert.Contains("aborted=True", outcome, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StreamLimitOption_BecomesTheInitialMaxStreams()
    {
        await using TransportTestHost host = await TransportTestHost.StartAsync(lo => lo.UseHttps(_certificate.Certificate),
            app => app.MapGet("/", () => "x"), o =>
            {
                o.Transport.MaxBidirectionalStreamCount = 7;
                o.Transport.MaxUnidirectionalStreamCount = 5;
            });
        await using MinimalHttp3Client client = await MinimalHttp3Client.ConnectAsync(host.QuicEndPoint, "localhost");

        (ulong bidi, ulong uni) = await client.InvokeAsync(c => (c.PeerTransportParameters!.InitialMaxStreamsBidi, c.PeerTransportParameters.InitialMaxStreamsUni));
        Assert.Equal(7UL, bidi); // RFC 9000 §18.2 initial_max_streams_bidi
        Assert.Equal(5UL, uni);

        // More requests than the limit still all complete: credit returns as streams finish (RFC 9000 §4.6).
        for (int i = 0; i < 20; i++) Assert.Equal(200, (await client.SendAsync("GET", "localhost", "/")).Status);
    }

    [Fact]
    public async Task ApplicationThatDoesNotRead_StopsTheClientByFlowControl()
    {
        const int bodyLength = 28_000_000; // below Kestrel's default MaxRequestBodySize (30,000,000)
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using TransportTestHost host = await TransportTestHost.StartAsync(lo => lo.UseHttps(_certificate.Certificate), app =>
            app.MapPost("/slow-reader", async (HttpContext c) =>
            {
                await gate.Task;
                long total = 0;
                byte[] buffer = new byte[64 * 1024];
                int read;
                while ((read = await c.Request.Body.ReadAsync(buffer)) > 0) total += read;
                return total.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }));
        await using MinimalHttp3Client client = await MinimalHttp3Client.ConnectAsync(host.QuicEndPoint, "localhost");

        byte[] request = [.. MinimalHttp3Client.EncodeRequestBytes("POST", "localhost", "/slow-reader"), .. MinimalHttp3Client.DataFrameHeader(bodyLength)];
        byte[] chunk = new byte[256 * 1024];
        long written = 0;
        ulong stream = await client.InvokeAsync(c =>
        {
            Assert.True(c.TryOpenStream(bidirectional: true, out ulong id));
            Assert.Equal(request.Length, c.WriteStream(id, request, fin: false));
            return id;
        });

        // Offer the whole body while the application is not reading, for a while.
        DateTime until = DateTime.UtcNow + TimeSpan.FromSeconds(2);
        while (DateTime.UtcNow < until)
        {
            written += await client.InvokeAsync(c => written < bodyLength
                ? c.WriteStream(stream, chunk.AsSpan(0, (int)Math.Min(chunk.Length, bodyLength - written)), fin: written + chunk.Length >= bodyLength)
                : 0);
            await Task.Delay(5, TestContext.Current.CancellationToken);
        }

        // Bounded by Kestrel's unread buffer (MaxReadBufferSize, 1 MiB) plus the stream receive window the server
        // granted, which only grows while the application reads (at most 16 MiB): well below the 28 MB offered.
        long sentWhilePaused = await client.InvokeAsync(c => c.Stats.BytesSent);
        gate.SetResult();
        Assert.InRange(sentWhilePaused, 1, 20L * 1024 * 1024);

        DateTime uploadDeadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (written < bodyLength)
        {
            Assert.True(DateTime.UtcNow < uploadDeadline, $"Upload stuck at {written} of {bodyLength} bytes after the application started reading.");
            written += await client.InvokeAsync(c =>
                c.WriteStream(stream, chunk.AsSpan(0, (int)Math.Min(chunk.Length, bodyLength - written)), fin: written + chunk.Length >= bodyLength));
            await Task.Delay(1, TestContext.Current.CancellationToken);
        }

        byte[] response = [];
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            (byte[] bytes, bool fin) = await client.InvokeAsync(c =>
            {
                byte[] buffer = new byte[4096];
                int read = c.ReadStream(stream, buffer, out bool f);
                return (buffer[..read], f);
            });
            response = [.. response, .. bytes];
            if (fin) break;
            await Task.Delay(5, TestContext.Current.CancellationToken);
        }

        Assert.Equal(bodyLength.ToString(System.Globalization.CultureInfo.InvariantCulture), Http3Response.Parse(response).BodyText);
    }
}
