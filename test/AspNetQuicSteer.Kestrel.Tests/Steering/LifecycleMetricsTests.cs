using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using AspNetQuicSteer.Hosting;
using AspNetQuicSteer.Kestrel.Tests.Hosting;
using AspNetQuicSteer.Quic.Tests.Interop;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AspNetQuicSteer.Kestrel.Tests.Steering;

/// <summary>
/// Issue 7: the lifecycle is observable as metrics (meter AspNetQuicSteer.Lifecycle) and in the log. An in-process
/// generation with a health gate of both kinds (a delegate that fails twice, then the path probed over HTTP/3) takes
/// over its port, then a sample-site process supersedes it and it drains and stops its host by itself.
/// </summary>
[Collection(SharedPortProcesses.Name)]
public sealed class LifecycleMetricsTests
{
    [Fact]
    public async Task Health_gate_activation_and_drain_are_reported_as_metrics_and_log_events()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Port steering is Linux-only.");
        using var port = new SharedPortFixture();
        using TestCertificate certificate = TestCertificates.CreateEcdsaP256();
        var measurements = new ConcurrentQueue<(string Instrument, double Value, string Tags)>();
        using var meters = new MeterListener
        {
            InstrumentPublished = static (instrument, listener) =>
            {
                if (instrument.Meter.Name == "AspNetQuicSteer.Lifecycle") listener.EnableMeasurementEvents(instrument);
            },
        };
        meters.SetMeasurementEventCallback<long>((instrument, value, tags, _) => measurements.Enqueue((instrument.Name, value, Describe(tags))));
        meters.SetMeasurementEventCallback<double>((instrument, value, tags, _) => measurements.Enqueue((instrument.Name, value, Describe(tags))));
        meters.SetMeasurementEventCallback<int>((instrument, value, tags, _) => measurements.Enqueue((instrument.Name, value, Describe(tags))));
        meters.Start();

        int checks = 0;
        var log = new LogCapture();
        WebApplicationBuilder builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(log);
        builder.WebHost.UseQuicSteering(options =>
        {
            options.Transport.Dataplane = QuicSteeringDataplane.ReuseportCbpf;
            options.Transport.SteeringDirectory = port.Directory;
            options.Transport.ApplicationName = "SampleSite"; // the sample-site process that follows is the same app
            options.Transport.Probation = TimeSpan.FromSeconds(1);
            options.DrainTimeout = TimeSpan.FromSeconds(20);
            options.HealthGate.Path = "/ready";
            options.HealthGate.RetryInterval = TimeSpan.FromMilliseconds(50);
            options.HealthGate.Check = (services, _) => Task.FromResult(Interlocked.Increment(ref checks) > 2 && services.GetService<IHostEnvironment>() is not null);
        });
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(System.Net.IPAddress.Loopback, port.Port, listen =>
        {
            listen.Protocols = HttpProtocols.Http3;
            listen.UseHttps(certificate.Certificate);
        }));
        await using WebApplication app = builder.Build();
        int probes = 0;
        app.MapGet("/ready", () =>
        {
            Interlocked.Increment(ref probes);
            return "ready";
        });
        await app.StartAsync(TestContext.Current.CancellationToken);

        // The delegate failed twice (attempts 1 and 2 logged), then the path answered over HTTP/3, then activation.
        Assert.Equal(3, Volatile.Read(ref checks));
        Assert.Equal(1, Volatile.Read(ref probes));
        Assert.Contains(log.Entries, e => e.EventId.Id == 105 && e.Message.Contains("attempt 2 failed: the health check returned false", StringComparison.Ordinal));
        Assert.Contains(log.Entries, e => e.EventId.Id == 104);
        Assert.Contains(measurements, m => m.Instrument == "quicsteer.health_gate.duration" && m.Tags == "result=pass");
        await WaitForAsync(() => measurements.Any(m => m.Instrument == "quicsteer.generation.state_changes" && m.Tags == "state=Active"), "state_changes Active");
        meters.RecordObservableInstruments();
        Assert.Contains(measurements, m => m.Instrument == "quicsteer.generation.active" && m.Value == 1);

        // A newer generation takes over: this one drains, and with no connections left after the probation it stops
        // its host by itself.
        await using SampleSiteProcess next = port.Start("v2", "ReuseportCbpf");
        await next.WaitForStateAsync("Active");
        await WaitForAsync(() => measurements.Any(m => m.Instrument == "quicsteer.generation.state_changes" && m.Tags == "state=Draining"), "state_changes Draining");
        meters.RecordObservableInstruments();
        Assert.Contains(measurements, m => m.Instrument == "quicsteer.generation.active" && m.Value == 0);
        Task stopped = app.WaitForShutdownAsync(TestContext.Current.CancellationToken);
        Assert.Same(stopped, await Task.WhenAny(stopped, Task.Delay(TimeSpan.FromSeconds(15), TestContext.Current.CancellationToken)));
        Assert.Contains(measurements, m => m.Instrument == "quicsteer.drain.duration" && m.Tags == "reason=connections closed" && m.Value >= 1);
        Assert.Contains(log.Entries, e => e.EventId.Id == 102);
        Assert.Contains(log.Entries, e => e.EventId.Id == 103 && e.Message.StartsWith("Generation drained (connections closed)", StringComparison.Ordinal));
        Assert.Equal("v2", await port.VersionOverNewConnectionAsync());
    }

    private static string Describe(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var parts = new List<string>(tags.Length);
        foreach (KeyValuePair<string, object?> tag in tags) parts.Add($"{tag.Key}={tag.Value}");
        return string.Join(',', parts);
    }

    private static async Task WaitForAsync(Func<bool> condition, string what)
    {
        for (int i = 0; i < 100 && !condition(); i++) await Task.Delay(50, TestContext.Current.CancellationToken);
        Assert.True(condition(), $"{what} was not reported within 5 s");
    }
}
