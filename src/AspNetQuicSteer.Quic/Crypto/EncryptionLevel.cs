namespace AspNetQuicSteer.Quic.Crypto;

/// <summary>
/// QUIC encryption levels (RFC 9001 §4.1.4). Initial, Handshake and 1-RTT map to the three
/// packet-number spaces; 0-RTT shares the application space.
/// </summary>
internal enum EncryptionLevel
{
    Initial = 0,
    ZeroRtt = 1,
    Handshake = 2,
    OneRtt = 3,
}
