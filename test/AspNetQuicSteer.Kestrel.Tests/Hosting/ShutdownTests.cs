using System.Diagnostics;
using AspNetQuicSteer.Quic.Tests.Interop;
using Microsoft.Extensions.Hosting;

namespace AspNetQuicSteer.Kestrel.Tests.Hosting;

/// <summary>
/// Host shutdown with HTTP/3 connections: Kestrel's graceful path (KESTREL.md §4) over our transport, observed by
/// gtlsclient. Every stop is bounded well inside HostOptions.ShutdownTimeout, so a transport that makes Kestrel wait for
/// the timeout (or for ever) fails here.
/// </summary>
[Collection(SequentialHostingTests.Name)]
public sealed class ShutdownTests
{
    /// <summary>Well under the sites' ShutdownTimeout (20 s): a graceful stop is not allowed to need the timeout.</summary>
    private static readonly TimeSpan s_stopBound = TimeSpan.FromSeconds(10);

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    /// <summary>
    /// RFC 9114 §5.2: to shut down gracefully the server sends GOAWAY on its control stream (§6.2.1, §7.2.6) and completes
    /// the requests below the GOAWAY's stream ID. A /slow/2000 request in flight when the host stops still gets its whole
    /// 200 response, the GOAWAY arrives before that request's stream closes, and the stop completes once the client
    /// closed the connection.
    /// </summary>
    [Fact]
    public async Task Stop_with_a_request_in_flight_sends_GOAWAY_and_completes_the_request()
    {
        await using SampleSiteFactory site = new();
        site.StartServer();
        using TempDirectory downloads = new();
        await using PeerProcess client = GtlsClient.Start(site.Port, ["/slow/2000"], downloads.Path);
        await client.WaitForLineAsync(l => l == GtlsClient.ResponseHeadersStarted(0), TimeSpan.FromSeconds(20), cancellationToken: Cancellation);
        Assert.Equal("HTTP/3", await site.Probe.Started.WaitAsync(TimeSpan.FromSeconds(5), Cancellation));

        Stopwatch stopping = Stopwatch.StartNew();
        await site.Host.StopAsync(CancellationToken.None).WaitAsync(s_stopBound, Cancellation);
        stopping.Stop();
        await client.WaitForExitAsync(TimeSpan.FromSeconds(10), Cancellation);
        GtlsClientOutput output = new(client.StandardErrorLines, client.Describe());

        IReadOnlyList<Http3Frame> control = output.ServerControlStreamFrames();
        Assert.True(control.Count > 0 && control[0].Type == Http3Frame.SettingsType, "SETTINGS must open the control stream (RFC 9114 §6.2.1).\n" + output.Description);
        Http3Frame? goAway = control.FirstOrDefault(f => f.Type == Http3Frame.GoAwayType);
        Assert.True(goAway is not null, "No GOAWAY on the server's control stream.\n" + output.Description);

        // RFC 9114 §5.2/§7.2.6: a server's GOAWAY carries a client-initiated bidirectional stream ID (a multiple of 4);
        // any other ID is a connection error of type H3_ID_ERROR (0x108) at the client, which loses the request.
        foreach (Http3Frame frame in control.Where(f => f.Type == Http3Frame.GoAwayType))
        {
            Assert.True(frame.GoAwayId % 4 == 0,
                $"{frame} is not a client-initiated bidirectional stream ID (RFC 9114 §5.2); the client closes with H3_ID_ERROR.\n{output.Description}");
        }

        Assert.True(goAway.GoAwayId > 0, $"{goAway} would refuse stream 0, the request in flight.");
        int closedAt = output.StreamClosedLineIndex(0, out long errorCode);
        Assert.True(closedAt > goAway.LineIndex, "The GOAWAY must arrive while the request is still in flight.\n" + output.Description);
        Assert.Equal(0x100, errorCode); // H3_NO_ERROR: the stream completed normally (RFC 9114 §8.1)
        Assert.True(output.Status(0) == 200, output.Description);
        string body = await File.ReadAllTextAsync(downloads.Combine("2000"), Cancellation);
        Assert.EndsWith("done\n", body, StringComparison.Ordinal);
        Assert.True(site.Probe.Completed.IsCompleted, "The app's /slow handler did not complete normally.");
        Assert.Empty(site.Logs.TransportErrors);
        Assert.True(stopping.Elapsed < s_stopBound, $"Stop took {stopping.Elapsed}.");
    }

    /// <summary>Stopping a host that never had a connection completes promptly (the listener's accept loop ends on Unbind).</summary>
    [Fact]
    public async Task Stop_without_connections_completes_promptly()
    {
        await using SampleSiteFactory site = new();
        site.StartServer();
        Assert.Single(site.Transport.Listeners);

        Stopwatch stopping = Stopwatch.StartNew();
        await site.Host.StopAsync(CancellationToken.None).WaitAsync(s_stopBound, Cancellation);

        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(5), $"Stop took {stopping.Elapsed}.");
        Assert.False(FreeUdpPort.IsBound(site.Port), $"UDP port {site.Port} is still bound after the host stopped.");
    }

    /// <summary>
    /// RFC 9114 §5.2: idle connections get a GOAWAY and are closed by the server on shutdown. Two gtlsclient connections
    /// that finished their request and stay open must not hold the host's stop; both clients see the GOAWAY and the
    /// connection close.
    /// </summary>
    [Fact]
    public async Task Stop_with_idle_connections_closes_them_and_completes_promptly()
    {
        await using SampleSiteFactory site = new();
        site.StartServer();
        using TempDirectory downloadsA = new();
        using TempDirectory downloadsB = new();
        await using PeerProcess clientA = GtlsClient.Start(site.Port, ["/hello"], downloadsA.Path, exitWhenDone: false);
        await using PeerProcess clientB = GtlsClient.Start(site.Port, ["/hello"], downloadsB.Path, exitWhenDone: false);
        foreach (PeerProcess client in new[] { clientA, clientB })
        {
            await client.WaitForLineAsync(l => l.StartsWith("HTTP stream 0 closed", StringComparison.Ordinal), TimeSpan.FromSeconds(20), cancellationToken: Cancellation);
        }

        Stopwatch stopping = Stopwatch.StartNew();
        await site.Host.StopAsync(CancellationToken.None).WaitAsync(s_stopBound, Cancellation);
        stopping.Stop();

        foreach (PeerProcess client in new[] { clientA, clientB })
        {
            // The server's CONNECTION_CLOSE puts gtlsclient into draining; it then exits on its own.
            await client.WaitForLineAsync(l => l.Contains(NgtcpOutput.Draining, StringComparison.Ordinal), TimeSpan.FromSeconds(10), cancellationToken: Cancellation);
            GtlsClientOutput output = new(client.StandardErrorLines, client.Describe());
            Assert.True(output.Status(0) == 200, output.Description);
            Assert.True(
                output.ServerControlStreamFrames().Any(f => f.Type == Http3Frame.GoAwayType),
                $"No GOAWAY reached the client before the connection closed.\n{output.Description}\nServer log:\n{site.Logs.Describe()}");
        }

        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(5), $"Stop took {stopping.Elapsed}.");
    }

    /// <summary>
    /// RFC 9114 §5.3/§5.4: when the client closes the connection (CONNECTION_CLOSE) while a request is in flight, the
    /// request is over; the app observes it as HttpContext.RequestAborted and its handler never completes normally.
    /// gtlsclient requests /hello and /slow/5000 on one connection and exits (closing the connection) when the first
    /// stream closes.
    /// </summary>
    [Fact]
    public async Task Client_closing_the_connection_mid_request_aborts_the_request()
    {
        await using SampleSiteFactory site = new();
        site.StartServer();
        using TempDirectory downloads = new();
        await using PeerProcess client = GtlsClient.Start(
            site.Port, ["/slow/5000", "/hello"], downloads.Path, exitWhenDone: false, extraArguments: ["--exit-on-first-stream-close"]);

        Assert.Equal("HTTP/3", await site.Probe.Started.WaitAsync(TimeSpan.FromSeconds(20), Cancellation));
        await client.WaitForExitAsync(TimeSpan.FromSeconds(20), Cancellation);
        Assert.Contains(client.StandardErrorLines, l => l.Contains("CONNECTION_CLOSE", StringComparison.Ordinal) && l.Contains("frm tx", StringComparison.Ordinal));

        await site.Probe.Aborted.WaitAsync(TimeSpan.FromSeconds(10), Cancellation);
        Assert.False(site.Probe.Completed.IsCompleted, "The /slow handler completed although its client was gone.");

        // A peer's close is the ordinary client-abort path (KESTREL.md §4), not a transport fault.
        Assert.Empty(site.Logs.TransportErrors);
    }
}
