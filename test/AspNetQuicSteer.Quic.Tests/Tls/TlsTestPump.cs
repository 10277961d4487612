using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Tls;
using TlsCipherSuite = AspNetQuicSteer.Quic.Crypto.TlsCipherSuite;

namespace AspNetQuicSteer.Quic.Tests.Tls;

/// <summary>Moves handshake bytes between an in-memory client and server, level by level (no QUIC packets).</summary>
internal sealed class TlsTestPump
{
    public static readonly byte[] ClientTransportParameters = [0x01, 0x02, 0x03];
    public static readonly byte[] ServerTransportParameters = [0x0A, 0x0B, 0x0C, 0x0D];

    public List<TlsTrafficSecret> ClientSecrets { get; } = [];

    public List<TlsTrafficSecret> ServerSecrets { get; } = [];

    /// <summary>Every handshake message chunk each side sent, with its level, in order.</summary>
    public List<(EncryptionLevel Level, byte[] Data)> ClientData { get; } = [];

    public List<(EncryptionLevel Level, byte[] Data)> ServerData { get; } = [];

    /// <summary>Splits each delivery into pieces of this size (0 = whole).</summary>
    public int ChunkSize { get; init; }

    public static TlsClientOptions ClientOptions(
        X509Certificate2? trustedRoot = null,
        string serverName = "localhost",
        IReadOnlyList<TlsCipherSuite>? suites = null,
        IReadOnlyList<TlsNamedGroup>? keyShares = null,
        IReadOnlyList<TlsNamedGroup>? supportedGroups = null,
        string alpn = "h3",
        ITlsKeyLog? keyLog = null,
        X509Certificate2? clientCertificate = null)
        => new()
        {
            ServerName = serverName,
            ApplicationProtocols = [new SslApplicationProtocol(alpn)],
            TransportParameters = ClientTransportParameters,
            CipherSuites = suites ?? TlsDefaults.CipherSuites,
            KeyShareGroups = keyShares ?? TlsDefaults.ClientKeyShareGroups,
            SupportedGroups = supportedGroups ?? TlsDefaults.ServerGroups,
            TrustedRootCertificates = [trustedRoot ?? TlsTestCertificates.EcdsaP256],
            KeyLog = keyLog,
            ClientCertificate = clientCertificate,
        };

    public static TlsServerOptions ServerOptions(
        X509Certificate2? certificate = null,
        X509Certificate2Collection? chain = null,
        IReadOnlyList<TlsCipherSuite>? suites = null,
        IReadOnlyList<TlsNamedGroup>? groups = null,
        string alpn = "h3",
        ITlsKeyLog? keyLog = null,
        TlsClientCertificateMode clientCertificateMode = TlsClientCertificateMode.None,
        X509Certificate2? clientRoot = null)
        => new()
        {
            Certificate = certificate ?? TlsTestCertificates.EcdsaP256,
            CertificateChain = chain,
            ApplicationProtocols = [new SslApplicationProtocol(alpn)],
            TransportParameters = ServerTransportParameters,
            CipherSuites = suites ?? TlsDefaults.CipherSuites,
            Groups = groups ?? TlsDefaults.ServerGroups,
            KeyLog = keyLog,
            ClientCertificateMode = clientCertificateMode,
            ClientCertificateTrustedRoots = clientRoot is null ? null : [clientRoot],
        };

    /// <summary>Runs until neither side produces anything. Exceptions propagate.</summary>
    public void Run(IQuicTlsSession client, IQuicTlsSession server)
    {
        client.Start();
        server.Start();
        bool progress = true;
        while (progress)
        {
            progress = Transfer(client, server, ClientSecrets, ClientData);
            progress |= Transfer(server, client, ServerSecrets, ServerData);
        }

        Drain(client, ClientSecrets);
        Drain(server, ServerSecrets);
    }

    /// <summary>Drains <paramref name="from"/> and feeds its handshake bytes to <paramref name="to"/>.</summary>
    public bool Transfer(IQuicTlsSession from, IQuicTlsSession to, List<TlsTrafficSecret> secrets, List<(EncryptionLevel, byte[])> log)
    {
        Drain(from, secrets);
        bool any = false;
        while (from.TryGetHandshakeData(out EncryptionLevel level, out ReadOnlyMemory<byte> data))
        {
            any = true;
            log.Add((level, data.ToArray()));
            int chunk = ChunkSize == 0 ? data.Length : ChunkSize;
            for (int offset = 0; offset < data.Length; offset += chunk)
            {
                to.ReadHandshake(level, data.Span.Slice(offset, Math.Min(chunk, data.Length - offset)));
            }
        }

        return any;
    }

    public static void Drain(IQuicTlsSession session, List<TlsTrafficSecret> secrets)
    {
        while (session.TryGetSecret(out TlsTrafficSecret secret))
        {
            secrets.Add(secret);
        }
    }

    public static byte[] SecretFor(List<TlsTrafficSecret> secrets, EncryptionLevel level, TlsKeyDirection direction)
        => secrets.Single(s => s.Level == level && s.Direction == direction).Secret;
}
