using System.Security.Cryptography;
using AspNetQuicSteer.Quic.Crypto;

namespace AspNetQuicSteer.Quic.Tests.Crypto;

/// <summary>Builds unprotected test packets (long or short header) with the layout RFC 9000 §17 gives them.</summary>
internal static class PacketProtectionTestPackets
{
    public static readonly TlsCipherSuite[] AllSuites =
        [TlsCipherSuite.Aes128GcmSha256, TlsCipherSuite.Aes256GcmSha384, TlsCipherSuite.ChaCha20Poly1305Sha256];

    public static PacketProtectionKeys RandomKeys(TlsCipherSuite suite)
        => PacketProtectionKeys.Create(suite, RandomNumberGenerator.GetBytes(suite.HashLength()));

    /// <summary>
    /// A packet with the header bytes in place (first byte with the given form and Packet Number Length bits, a
    /// <paramref name="pnOffset"/>-byte header before the packet number), payload, and tag room. Returns the buffer
    /// sized exactly to the sealed packet.
    /// </summary>
    public static byte[] Unprotected(bool longHeader, int pnOffset, int pnLength, ulong packetNumber, ReadOnlySpan<byte> payload, byte headerFill = 0x5a)
    {
        byte[] packet = new byte[pnOffset + pnLength + payload.Length + PacketProtectionKeys.TagLength];
        packet.AsSpan(1, pnOffset - 1).Fill(headerFill);
        // Long: 1 1 TT RR PP (RFC 9000 §17.2); short: 0 1 S RR K PP (RFC 9000 §17.3.1).
        packet[0] = (byte)((longHeader ? 0xc0 : 0x40) | (pnLength - 1));
        for (int i = 0; i < pnLength; i++)
        {
            packet[pnOffset + i] = (byte)(packetNumber >> (8 * (pnLength - 1 - i)));
        }

        payload.CopyTo(packet.AsSpan(pnOffset + pnLength));
        return packet;
    }
}
