using System.Diagnostics;
using System.Net;
using AspNetQuicSteer.Client;
using AspNetQuicSteer.Kestrel.Internal;
using Microsoft.Extensions.Logging;

namespace AspNetQuicSteer.Hosting.Internal;

/// <summary>
/// Runs the health gate (<see cref="QuicSteeringHealthGateOptions"/>) of a generation that has started but not yet
/// taken over its port: the in-process check, then GET on the configured path over HTTP/3 to each shared listener's
/// private probe socket (new connections on the shared port still reach the predecessor), repeated until both pass or
/// the gate's timeout expires.
/// </summary>
internal sealed class GenerationHealthGate(QuicSteeringHealthGateOptions options, IServiceProvider services, ILogger logger)
{
    public async Task<bool> PassAsync(IReadOnlyList<QuicSteeringConnectionListener> listeners, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Timeout);
        var probes = new List<(IPEndPoint EndPoint, HttpClient Client)>();
        try
        {
            if (options.Path is not null)
            {
                foreach (QuicSteeringConnectionListener listener in listeners) probes.Add((listener.StartHealthProbe(), CreateProbeClient()));
            }

            string failure = "no attempt completed";
            for (int attempt = 1; ; attempt++)
            {
                try
                {
                    failure = await AttemptAsync(probes, timeout.Token).ConfigureAwait(false) ?? string.Empty;
                    if (failure.Length == 0)
                    {
                        QuicSteeringHostingLog.HealthGatePassed(logger, attempt, clock.Elapsed.TotalSeconds);
                        return true;
                    }
                }
                catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    failure = "the attempt did not finish before the gate's timeout";
                }
#pragma warning disable CA1031 // A failing check or probe is a failed attempt, reported with the gate's verdict, never a crash.
                catch (Exception e) when (e is not OperationCanceledException)
#pragma warning restore CA1031
                {
                    failure = $"{e.GetType().Name}: {e.Message}";
                }

                QuicSteeringHostingLog.HealthGateAttemptFailed(logger, attempt, failure);
                try
                {
                    await Task.Delay(options.RetryInterval, timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    QuicSteeringHostingLog.HealthGateFailed(logger, attempt, clock.Elapsed.TotalSeconds, failure);
                    return false;
                }
            }
        }
        finally
        {
            foreach ((_, HttpClient client) in probes) client.Dispose();
            foreach (QuicSteeringConnectionListener listener in listeners) await listener.StopHealthProbeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>One attempt; null when it passed, else why not.</summary>
    private async Task<string?> AttemptAsync(List<(IPEndPoint EndPoint, HttpClient Client)> probes, CancellationToken cancellationToken)
    {
        if (options.Check is { } check && !await check(services, cancellationToken).ConfigureAwait(false))
        {
            return "the health check returned false";
        }

        foreach ((IPEndPoint endPoint, HttpClient client) in probes)
        {
            var uri = new Uri($"https://{endPoint}{options.Path}");
            using var request = new HttpRequestMessage(HttpMethod.Get, uri) { Version = HttpVersion.Version30, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
            using HttpResponseMessage response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode) return $"GET {options.Path} over HTTP/3 answered {(int)response.StatusCode}";
        }

        return null;
    }

    private static HttpClient CreateProbeClient() => new(new QuicSteeringHttp3Handler(new QuicSteeringHttp3HandlerOptions
    {
        // The probe talks to this very process over loopback: the certificate is the one this process serves, and
        // checking it against a trust store would fail for self-signed development certificates.
#pragma warning disable CA5359
        ServerCertificateCustomValidationCallback = static (_, _, _, _) => true,
#pragma warning restore CA5359
        MaxRetries = 0,
        ConnectTimeout = TimeSpan.FromSeconds(5),
    }));
}
