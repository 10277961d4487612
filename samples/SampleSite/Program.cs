using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Core;

var builder = WebApplication.CreateBuilder(args);
builder.WebHost.UseQuicSteering();
builder.WebHost.ConfigureKestrel(k =>
{
    k.ConfigureHttpsDefaults(h => h.ServerCertificate ??= DevCert());
    if (!builder.Configuration.GetSection("Kestrel:Endpoints").Exists() && string.IsNullOrEmpty(builder.Configuration["urls"]))
    {
        k.Listen(IPAddress.Loopback, 5443, lo => { lo.Protocols = HttpProtocols.Http1AndHttp2AndHttp3; lo.UseHttps(); });
    }
});
var app = builder.Build();
string version = Environment.GetEnvironmentVariable("APP_VERSION") ?? "dev";
app.MapGet("/hello", (HttpContext c) => $"Hello from {version} over {c.Request.Protocol}\n");
app.MapGet("/bytes/{n:long}", async (HttpContext c, long n) =>
{
    c.Response.ContentType = "application/octet-stream";
    c.Response.ContentLength = n;
    byte[] buf = new byte[251 * 64];
    for (int i = 0; i < buf.Length; i++) buf[i] = (byte)(i % 251);
    long sent = 0;
    while (sent < n)
    {
        int chunk = (int)Math.Min(buf.Length, n - sent);
        await c.Response.Body.WriteAsync(buf.AsMemory(0, chunk));
        sent += chunk;
    }
});
app.MapPost("/echo", async (HttpContext c) =>
{
    c.Response.ContentType = "application/octet-stream";
    await c.Request.Body.CopyToAsync(c.Response.Body);
});
app.Run();

static X509Certificate2 DevCert()
{
    using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    var req = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
    var san = new SubjectAlternativeNameBuilder();
    san.AddDnsName("localhost"); san.AddIpAddress(IPAddress.Loopback); san.AddIpAddress(IPAddress.IPv6Loopback);
    req.CertificateExtensions.Add(san.Build());
    using var cert = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
    return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pkcs12), null);
}
