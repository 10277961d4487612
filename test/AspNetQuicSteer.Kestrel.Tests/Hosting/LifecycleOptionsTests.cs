using AspNetQuicSteer.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AspNetQuicSteer.Kestrel.Tests.Hosting;

/// <summary>The rollover lifecycle's options (issue 7): bound from configuration, and validated when set.</summary>
public sealed class LifecycleOptionsTests
{
    [Fact]
    public void Lifecycle_options_bind_from_the_QuicSteering_section()
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(
        [
            "--QuicSteering:HealthGate:Path=/healthz", "--QuicSteering:HealthGate:Timeout=00:00:05", "--QuicSteering:HealthGate:RetryInterval=00:00:00.1",
            "--QuicSteering:DrainTimeout=00:00:12", "--QuicSteering:AutomaticDrainMiddleware=false", "--QuicSteering:Transport:GenerationId=42",
            "--QuicSteering:Transport:SteeringDirectory=/run/example",
        ]);
        builder.WebHost.UseQuicSteering();
        using WebApplication app = builder.Build();
        QuicSteeringOptions options = app.Services.GetRequiredService<IOptions<QuicSteeringOptions>>().Value;
        Assert.Equal("/healthz", options.HealthGate.Path);
        Assert.Equal(TimeSpan.FromSeconds(5), options.HealthGate.Timeout);
        Assert.Equal(TimeSpan.FromMilliseconds(100), options.HealthGate.RetryInterval);
        Assert.Equal(TimeSpan.FromSeconds(12), options.DrainTimeout);
        Assert.False(options.AutomaticDrainMiddleware);
        Assert.Equal(42, options.Transport.GenerationId);
        Assert.Equal("/run/example", options.Transport.SteeringDirectory);
    }

    [Theory]
    [InlineData("healthz")]
    [InlineData("https://example.com/healthz")]
    [InlineData("/health z")]
    public void A_health_gate_path_must_be_a_relative_uri_starting_with_a_slash(string path)
    {
        var options = new QuicSteeringHealthGateOptions();
        Assert.Throws<ArgumentException>(() => options.Path = path);
        Assert.Null(options.Path);
    }

    [Fact]
    public void Health_gate_times_must_be_positive()
    {
        var options = new QuicSteeringHealthGateOptions();
        Assert.Throws<ArgumentOutOfRangeException>(() => options.Timeout = TimeSpan.Zero);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.RetryInterval = TimeSpan.FromSeconds(-1));
    }

    /// <summary>A generation ID is one byte in every connection ID (ARCHITECTURE.md §5); 0 means "none".</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(256)]
    [InlineData(-1)]
    public void A_generation_id_is_1_to_255(int id)
    {
        var options = new QuicSteeringTransportOptions();
        Assert.Throws<ArgumentOutOfRangeException>(() => options.GenerationId = id);
        options.GenerationId = 255;
        options.GenerationId = null;
        Assert.Null(options.GenerationId);
    }

    [Fact]
    public void UseQuicSteeringDrain_without_UseQuicSteering_says_what_is_missing()
    {
        using WebApplication app = WebApplication.CreateBuilder().Build();
        InvalidOperationException error = Assert.Throws<InvalidOperationException>(() => app.UseQuicSteeringDrain());
        Assert.Contains("UseQuicSteering()", error.Message, StringComparison.Ordinal);
    }
}
