using System.Buffers.Binary;
using System.Net;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.TransportParameters;

/// <summary>
/// The preferred_address transport parameter value (RFC 9000 §18.2): an IPv4 and an IPv6 address with
/// ports (all-zero when the family is not offered), a connection ID and its stateless reset token.
/// Addresses are raw big-endian bytes so the value round-trips exactly.
/// </summary>
internal readonly record struct PreferredAddress(
    uint IPv4Address,
    ushort IPv4Port,
    UInt128 IPv6Address,
    ushort IPv6Port,
    ConnectionId ConnectionId,
    StatelessResetToken StatelessResetToken)
{
    /// <summary>RFC 9000 §18.2: 4 + 2 + 16 + 2 + 1 bytes of fixed fields, then the CID, then the 16-byte token.</summary>
    public int EncodedLength => 4 + 2 + 16 + 2 + 1 + ConnectionId.Length + StatelessResetToken.Length;

    /// <summary>Null when the server offered no IPv4 address (address and port zero).</summary>
    public IPEndPoint? GetIPv4EndPoint()
    {
        if (IPv4Address == 0 && IPv4Port == 0)
        {
            return null;
        }

        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, IPv4Address);
        return new IPEndPoint(new IPAddress(bytes), IPv4Port);
    }

    /// <summary>Null when the server offered no IPv6 address (address and port zero).</summary>
    public IPEndPoint? GetIPv6EndPoint()
    {
        if (IPv6Address == UInt128.Zero && IPv6Port == 0)
        {
            return null;
        }

        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, IPv6Address);
        return new IPEndPoint(new IPAddress(bytes), IPv6Port);
    }
}
