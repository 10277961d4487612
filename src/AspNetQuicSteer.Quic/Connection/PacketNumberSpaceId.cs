using AspNetQuicSteer.Quic.Crypto;

namespace AspNetQuicSteer.Quic.Connection;

/// <summary>The three packet number spaces (RFC 9000 §12.3).</summary>
internal enum PacketNumberSpaceId
{
    Initial = 0,
    Handshake = 1,
    Application = 2,
}

internal static class PacketNumberSpaceIdExtensions
{
    public static PacketNumberSpaceId ToSpace(this EncryptionLevel level) => level switch
    {
        EncryptionLevel.Initial => PacketNumberSpaceId.Initial,
        EncryptionLevel.Handshake => PacketNumberSpaceId.Handshake,
        _ => PacketNumberSpaceId.Application,
    };
}
