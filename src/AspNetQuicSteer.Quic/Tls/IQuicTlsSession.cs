using System.Security.Cryptography.X509Certificates;
using AspNetQuicSteer.Quic.Crypto;

namespace AspNetQuicSteer.Quic.Tls;

/// <summary>Which way a traffic secret protects packets, from this endpoint's point of view.</summary>
internal enum TlsKeyDirection
{
    Read,
    Write,
}

/// <summary>A traffic secret the handshake made available (RFC 9001 §4.1.4).</summary>
internal readonly record struct TlsTrafficSecret(EncryptionLevel Level, TlsKeyDirection Direction, TlsCipherSuite CipherSuite, byte[] Secret);

/// <summary>
/// The crypto seam between QUIC and TLS 1.3 (RFC 9001 §4.1): an event pump. QUIC feeds contiguous,
/// in-order CRYPTO stream bytes per encryption level; TLS produces handshake bytes to send per level and
/// traffic secrets. No I/O, no clock. Failures surface as <see cref="TlsAlertException"/>, which maps to
/// a QUIC CRYPTO_ERROR (0x100 + alert, RFC 9001 §4.8).
/// </summary>
internal interface IQuicTlsSession : IDisposable
{
    bool IsClient { get; }

    /// <summary>True once this side has both sent and received Finished.</summary>
    bool IsHandshakeComplete { get; }

    /// <summary>
    /// Server only: the ClientHello has been read and the server waits for <c>SetServerConfiguration</c>
    /// (used when certificate selection is asynchronous, e.g. Kestrel's OnConnection callback).
    /// </summary>
    bool IsAwaitingConfiguration { get; }

    /// <summary>Client: queues the ClientHello. Server: nothing.</summary>
    void Start();

    /// <summary>Feeds crypto stream bytes received at <paramref name="level"/>, in order, without gaps.</summary>
    void ReadHandshake(EncryptionLevel level, ReadOnlySpan<byte> data);

    /// <summary>Dequeues the next handshake bytes to send, in order.</summary>
    bool TryGetHandshakeData(out EncryptionLevel level, out ReadOnlyMemory<byte> data);

    /// <summary>Dequeues the next new traffic secret. Drain these before handshake data.</summary>
    bool TryGetSecret(out TlsTrafficSecret secret);

    /// <summary>The peer's quic_transport_parameters extension (RFC 9001 §8.2) once received.</summary>
    ReadOnlyMemory<byte>? PeerTransportParameters { get; }

    string? NegotiatedApplicationProtocol { get; }

    TlsCipherSuite? CipherSuite { get; }

    /// <summary>SNI (server: what the client sent; client: what it sent).</summary>
    string? ServerName { get; }

    X509Certificate2? PeerCertificate { get; }
}
