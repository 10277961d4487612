namespace AspNetQuicSteer.Quic.Tls.KeyExchange;

/// <summary>One ephemeral (EC)DHE key pair for one handshake (RFC 8446 §4.2.8, §7.4).</summary>
internal interface ITlsKeyExchange : IDisposable
{
    TlsNamedGroup Group { get; }

    /// <summary>Our key_exchange bytes for the KeyShareEntry.</summary>
    byte[] PublicKey { get; }

    /// <summary>Validates the peer's key_exchange and returns the shared secret; bad input → illegal_parameter.</summary>
    byte[] DeriveSharedSecret(ReadOnlySpan<byte> peerPublicKey);
}
