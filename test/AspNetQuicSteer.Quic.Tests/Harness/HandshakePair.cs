using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Endpoint;
using AspNetQuicSteer.Quic.Endpoint.Stateless;
using AspNetQuicSteer.Quic.Tests.Interop;
using AspNetQuicSteer.Quic.Tls;
using TlsCipherSuite = AspNetQuicSteer.Quic.Crypto.TlsCipherSuite;

namespace AspNetQuicSteer.Quic.Tests.Harness;

/// <summary>Settings of one in-memory client↔server handshake.</summary>
internal sealed record HandshakeSetup
{
    public IReadOnlyList<TlsCipherSuite>? ClientCipherSuites { get; init; }

    public IReadOnlyList<TlsCipherSuite>? ServerCipherSuites { get; init; }

    public IReadOnlyList<TlsNamedGroup>? ClientKeyShareGroups { get; init; }

    public IReadOnlyList<TlsNamedGroup>? ServerGroups { get; init; }

    public IReadOnlyList<SslApplicationProtocol> ClientAlpn { get; init; } = [SslApplicationProtocol.Http3];

    public IReadOnlyList<SslApplicationProtocol> ServerAlpn { get; init; } = [SslApplicationProtocol.Http3];

    /// <summary>Roots the client trusts; null trusts the server's own certificate.</summary>
    public X509Certificate2Collection? ClientTrustedRoots { get; init; }

    public string ServerName { get; init; } = "localhost";

    public LinkOptions Link { get; init; } = new();

    public int Seed { get; init; } = 1;

    public IInitialAdmissionPolicy? ServerAdmission { get; init; }

    /// <summary>Transport settings per side (idle timeout, stream windows, congestion control).</summary>
    public Func<QuicConnectionOptions>? ClientConnection { get; init; }

    public Func<QuicConnectionOptions>? ServerConnection { get; init; }

    /// <summary>Keys for tokens and stateless resets; share them to model generations of one app.</summary>
    public StatelessKeyRing? ServerKeys { get; init; }
}

/// <summary>A client and a server endpoint on a <see cref="SimulatedNetwork"/>, with real TLS and real certificates.</summary>
internal sealed class HandshakePair : IDisposable
{
    private static readonly Lazy<TestCertificate> SharedCertificate = new(TestCertificates.CreateEcdsaP256);

    public static readonly IPEndPoint ServerAddress = SimulatedNetwork.Address(1);
    public static readonly IPEndPoint ClientAddress = SimulatedNetwork.Address(2, 50000);

    private HandshakePair(HandshakeSetup setup)
    {
        Setup = setup;
        Network = new SimulatedNetwork(setup.Link, setup.Seed);
        X509Certificate2 certificate = SharedCertificate.Value.Certificate;
        Server = Network.Add(ServerAddress, CreateServerEndpoint(setup));
        ClientEndpoint = Network.Add(ClientAddress, new QuicEndpoint(new QuicEndpointOptions
        {
            Connection = setup.ClientConnection?.Invoke() ?? new QuicConnectionOptions(),
        }));
        Client = ClientEndpoint.Connect(Network.Now, ServerAddress, tp => new TlsClientHandshake(new TlsClientOptions
        {
            ServerName = setup.ServerName,
            ApplicationProtocols = setup.ClientAlpn,
            TransportParameters = tp,
            CipherSuites = setup.ClientCipherSuites ?? TlsDefaults.CipherSuites,
            KeyShareGroups = setup.ClientKeyShareGroups ?? TlsDefaults.ClientKeyShareGroups,
            TrustedRootCertificates = setup.ClientTrustedRoots ?? [certificate],
        }));
    }

    public HandshakeSetup Setup { get; }

    public SimulatedNetwork Network { get; }

    public QuicEndpoint Server { get; }

    public QuicEndpoint ClientEndpoint { get; }

    public QuicConnection Client { get; }

    /// <summary>The server side, once the server accepted the client's Initial.</summary>
    public QuicConnection? ServerConnection { get; private set; }

    public static X509Certificate2 ServerCertificate => SharedCertificate.Value.Certificate;

    public static HandshakePair Create(HandshakeSetup? setup = null) => new(setup ?? new HandshakeSetup());

    /// <summary>A server endpoint as the pair builds it; tests create more to model restarts and generations.</summary>
    public static QuicEndpoint CreateServerEndpoint(HandshakeSetup setup)
    {
        X509Certificate2 certificate = SharedCertificate.Value.Certificate;
        return new QuicEndpoint(new QuicEndpointOptions
        {
            ServerTls = tp => new TlsServerHandshake(new TlsServerOptions
            {
                Certificate = certificate,
                ApplicationProtocols = setup.ServerAlpn,
                TransportParameters = tp,
                CipherSuites = setup.ServerCipherSuites ?? TlsDefaults.CipherSuites,
                Groups = setup.ServerGroups ?? TlsDefaults.ServerGroups,
            }),
            Admission = setup.ServerAdmission ?? InitialAdmissionPolicies.AlwaysAccept,
            Connection = setup.ServerConnection?.Invoke() ?? new QuicConnectionOptions(),
            Keys = setup.ServerKeys,
        });
    }

    /// <summary>Runs until both sides have confirmed the handshake, or either closed, within the virtual budget.</summary>
    public bool RunHandshake(TimeSpan? budget = null)
        => Network.RunUntil(
            () =>
            {
                if (ServerConnection is null && Server.TryAccept(out QuicConnection accepted)) ServerConnection = accepted;
                bool done = Client.IsHandshakeConfirmed && ServerConnection is { IsHandshakeConfirmed: true };
                bool failed = Client.State >= QuicConnectionState.Closing || ServerConnection?.State >= QuicConnectionState.Closing;
                return done || failed;
            },
            budget ?? TimeSpan.FromSeconds(10)) && Client.IsHandshakeConfirmed && ServerConnection!.IsHandshakeConfirmed;

    /// <summary>Runs until both sides reached the closed state.</summary>
    public bool RunUntilClosed(TimeSpan budget)
        => Network.RunUntil(
            () =>
            {
                if (ServerConnection is null && Server.TryAccept(out QuicConnection accepted)) ServerConnection = accepted;
                return Client.State == QuicConnectionState.Closed && (ServerConnection is null || ServerConnection.State == QuicConnectionState.Closed);
            },
            budget);

    public void Dispose() => Network.Dispose();
}
