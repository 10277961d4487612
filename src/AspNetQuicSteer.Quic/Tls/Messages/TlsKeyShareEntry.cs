namespace AspNetQuicSteer.Quic.Tls.Messages;

/// <summary>KeyShareEntry (RFC 8446 §4.2.8): <c>{ NamedGroup group; opaque key_exchange&lt;1..2^16-1&gt;; }</c>.</summary>
internal readonly record struct TlsKeyShareEntry(ushort Group, byte[] KeyExchange);
