namespace AspNetQuicSteer.Quic.Tls.Messages;

/// <summary>PskIdentity (RFC 8446 §4.2.11), parsed for the future resumption path.</summary>
internal readonly record struct TlsPskIdentity(byte[] Identity, uint ObfuscatedTicketAge);
