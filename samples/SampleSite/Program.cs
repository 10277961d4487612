using SampleSite;

// The sample site: HTTP/1.1 and HTTP/2 over TCP plus HTTP/3 over UDP, all on one port (5443 by default, loopback only).
// See README.md ("The sample site") for configuration and client commands.
WebApplicationBuilder builder = WebApplication.CreateBuilder(args);
DevelopmentCertificateSource certificates = builder.AddSiteHosting();
string version = SiteHosting.GetVersion(builder.Configuration);

WebApplication app = builder.Build();
// Every response names the instance that served it: during a rollover, clients (and quicsteer-load --group-by-header)
// see which generation answered.
app.Use((context, next) =>
{
    context.Response.Headers["x-app-version"] = version;
    return next(context);
});
app.MapSiteEndpoints(version);
// The health gate (QuicSteering:HealthGate:Path, set in SiteHosting) probes this over HTTP/3 before a new version takes
// over the port; SampleSite:Unhealthy=true makes it fail, to show (and test) that the running version keeps serving.
bool unhealthy = app.Configuration.GetValue<bool>("SampleSite:Unhealthy");
app.MapGet("/healthz", () => unhealthy ? Results.Text("unhealthy\n", statusCode: StatusCodes.Status503ServiceUnavailable) : Results.Text("healthy\n"));
app.LogStartupLine(version, certificates);
app.Run();

/// <summary>The entry point; public so that WebApplicationFactory&lt;Program&gt; can host the site in tests.</summary>
public partial class Program;
