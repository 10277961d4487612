namespace AspNetQuicSteer.Quic.Tls;

/// <summary>Handshake message types (RFC 8446 §4, §B.3).</summary>
internal enum TlsHandshakeType : byte
{
    ClientHello = 1,
    ServerHello = 2,
    NewSessionTicket = 4,

    /// <summary>Never used in QUIC (RFC 9001 §8.3).</summary>
    EndOfEarlyData = 5,
    EncryptedExtensions = 8,
    Certificate = 11,
    CertificateRequest = 13,
    CertificateVerify = 15,
    Finished = 20,

    /// <summary>Forbidden in QUIC (RFC 9001 §6).</summary>
    KeyUpdate = 24,

    /// <summary>The synthetic message replacing ClientHello1 in the transcript after a HelloRetryRequest (RFC 8446 §4.4.1).</summary>
    MessageHash = 254,
}
