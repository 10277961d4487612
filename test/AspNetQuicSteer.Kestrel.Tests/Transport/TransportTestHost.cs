using System.Net;
using System.Net.Sockets;
using AspNetQuicSteer.Hosting;
using AspNetQuicSteer.Kestrel;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AspNetQuicSteer.Kestrel.Tests.Transport;

/// <summary>A real Kestrel host with UseQuicSteering() on a loopback port free for both TCP and UDP.</summary>
internal sealed class TransportTestHost : IAsyncDisposable
{
    private TransportTestHost(WebApplication app, int port)
    {
        App = app;
        Port = port;
    }

    public WebApplication App { get; }

    public int Port { get; }

    public IPEndPoint QuicEndPoint => new(IPAddress.Loopback, Port);

    public QuicSteeringTransportFactory Factory => App.Services.GetRequiredService<QuicSteeringTransportFactory>();

    public static async Task<TransportTestHost> StartAsync(Action<ListenOptions> configureEndpoint, Action<WebApplication> map,
        Action<QuicSteeringOptions>? configureSteering = null)
    {
        for (int attempt = 0; ; attempt++)
        {
            int port = GetPortFreeForTcpAndUdp();
            WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseQuicSteering(configureSteering);
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port, lo =>
            {
                lo.Protocols = HttpProtocols.Http1AndHttp2AndHttp3;
                configureEndpoint(lo);
            }));
            WebApplication app = builder.Build();
            map(app);
            try
            {
                await app.StartAsync();
                return new TransportTestHost(app, port);
            }
            catch (IOException) when (attempt < 5)
            {
                // Another process took the port between the probe and the bind: try another.
                await app.DisposeAsync();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await App.StopAsync(timeout.Token);
        await App.DisposeAsync();
    }

    private static int GetPortFreeForTcpAndUdp()
    {
        while (true)
        {
            using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            tcp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            int port = ((IPEndPoint)tcp.LocalEndPoint!).Port;
            using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                udp.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException)
            {
            }
        }
    }
}
