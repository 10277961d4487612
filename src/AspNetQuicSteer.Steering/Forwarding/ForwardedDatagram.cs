using System.Buffers.Binary;
using System.Net.Sockets;

namespace AspNetQuicSteer.Steering.Forwarding;

/// <summary>
/// Wire format of a QUIC datagram forwarded between generations over a Unix datagram socket: a fixed 48-byte header
/// followed by the datagram exactly as it arrived on the shared UDP port. All multi-byte fields are big-endian.
/// <code>
///  0  2  magic        0x51 0x46 ("QF")
///  2  1  version      1
///  3  1  flags        bits 0-1: ECN codepoint (RFC 3168 §5); bits 2-7 reserved, zero
///  4  1  remote family 4 | 6
///  5  1  local family  0 (unknown) | 4 | 6
///  6  2  payload length (must equal the bytes after the header)
///  8  2  remote port  (the client's)
/// 10  2  local port   (the shared port)
/// 12  4  interface index (ipi_ifindex / ipi6_ifindex, 0 = unknown)
/// 16 16  remote address (IPv4: 4 bytes then 12 zero bytes)
/// 32 16  local address  (the destination the client dialled; all zero when unknown)
/// 48  n  payload
/// </code>
/// <para>Fixed offsets and a fixed length keep encoding and decoding branch-light and allocation-free, and make a
/// truncated or padded message detectable: the length field must match the datagram (SOCK_DGRAM keeps message
/// boundaries, unix(7)). Both ends run on one host, but the byte order is fixed anyway so that the format is defined
/// independently of the platform. A receiver accepts only versions it knows; anything malformed is rejected with
/// <c>false</c>, never an exception, because the bytes come from another process.</para>
/// </summary>
internal static class ForwardedDatagram
{
    internal const int HeaderLength = 48;
    internal const byte Version = 1;
    internal const byte Magic0 = 0x51; // 'Q'
    internal const byte Magic1 = 0x46; // 'F'

    /// <summary>
    /// Largest payload: the largest UDP payload of a (non-jumbo) IPv6 datagram, 65535 − 8, since the IPv6 payload
    /// length covers the UDP header (RFC 8200 §3, RFC 768); IPv4 allows less (65507). It is also the largest
    /// max_udp_payload_size a QUIC peer may announce (RFC 9000 §18.2). Senders forward GRO-coalesced receives one
    /// segment at a time.
    /// </summary>
    internal const int MaxPayloadLength = 65527;

    internal const int MaxLength = HeaderLength + MaxPayloadLength;

    private const byte EcnMask = 0x03;
    private const byte Family4 = 4;
    private const byte Family6 = 6;

    /// <summary>Bytes needed to encode a payload of <paramref name="payloadLength"/> bytes.</summary>
    internal static int GetLength(int payloadLength) => HeaderLength + payloadLength;

    /// <summary>
    /// Encodes <paramref name="header"/> and <paramref name="payload"/> into <paramref name="destination"/>.
    /// False (nothing meaningful written) when the header is invalid, the payload is longer than
    /// <see cref="MaxPayloadLength"/> or the destination is too small.
    /// </summary>
    internal static bool TryWrite(Span<byte> destination, in ForwardedDatagramHeader header, ReadOnlySpan<byte> payload, out int written)
    {
        written = 0;
        if (destination.Length < HeaderLength + payload.Length || !TryWriteHeader(destination, header, payload.Length))
        {
            return false;
        }

        payload.CopyTo(destination[HeaderLength..]);
        written = HeaderLength + payload.Length;
        return true;
    }

    /// <summary>
    /// Encodes only the 48-byte header for a payload of <paramref name="payloadLength"/> bytes, for senders that
    /// gather header and payload from separate buffers (sendmsg with two iovecs).
    /// </summary>
    internal static bool TryWriteHeader(Span<byte> destination, in ForwardedDatagramHeader header, int payloadLength)
    {
        if (destination.Length < HeaderLength || (uint)payloadLength > MaxPayloadLength || !header.IsValid)
        {
            return false;
        }

        destination[0] = Magic0;
        destination[1] = Magic1;
        destination[2] = Version;
        destination[3] = (byte)(header.Ecn & EcnMask);
        destination[4] = header.RemoteFamily == AddressFamily.InterNetwork ? Family4 : Family6;
        destination[5] = header.LocalFamily switch
        {
            AddressFamily.InterNetwork => Family4,
            AddressFamily.InterNetworkV6 => Family6,
            _ => 0,
        };
        BinaryPrimitives.WriteUInt16BigEndian(destination[6..], (ushort)payloadLength);
        BinaryPrimitives.WriteUInt16BigEndian(destination[8..], header.RemotePort);
        BinaryPrimitives.WriteUInt16BigEndian(destination[10..], header.LocalPort);
        BinaryPrimitives.WriteUInt32BigEndian(destination[12..], header.InterfaceIndex);
        BinaryPrimitives.WriteUInt128BigEndian(destination[16..], header.RemoteAddressBits);
        BinaryPrimitives.WriteUInt128BigEndian(destination[32..], header.LocalAddressBits);
        return true;
    }

    /// <summary>
    /// Decodes a whole forwarded message. False when it is malformed in any way: too short, wrong magic or version,
    /// reserved bits set, unknown family, non-zero padding after an IPv4 address, an address for an unknown local
    /// family, or a length field that disagrees with the message length.
    /// </summary>
    internal static bool TryParse(ReadOnlySpan<byte> message, out ForwardedDatagramHeader header, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        if (message.Length < HeaderLength || !TryParseHeader(message[..HeaderLength], message.Length - HeaderLength, out header))
        {
            header = default;
            return false;
        }

        payload = message[HeaderLength..];
        return true;
    }

    /// <summary>
    /// Decodes a header whose payload arrived separately (scatter receive): <paramref name="payloadLength"/> is the
    /// number of bytes actually received after the header.
    /// </summary>
    internal static bool TryParseHeader(ReadOnlySpan<byte> headerBytes, int payloadLength, out ForwardedDatagramHeader header)
    {
        header = default;
        if (headerBytes.Length < HeaderLength
            || headerBytes[0] != Magic0 || headerBytes[1] != Magic1 || headerBytes[2] != Version
            || (headerBytes[3] & ~EcnMask) != 0
            || (uint)payloadLength > MaxPayloadLength
            || BinaryPrimitives.ReadUInt16BigEndian(headerBytes[6..]) != payloadLength)
        {
            return false;
        }

        AddressFamily remoteFamily = headerBytes[4] switch
        {
            Family4 => AddressFamily.InterNetwork,
            Family6 => AddressFamily.InterNetworkV6,
            _ => AddressFamily.Unknown,
        };
        AddressFamily localFamily = headerBytes[5] switch
        {
            0 => AddressFamily.Unspecified,
            Family4 => AddressFamily.InterNetwork,
            Family6 => AddressFamily.InterNetworkV6,
            _ => AddressFamily.Unknown,
        };
        if (remoteFamily == AddressFamily.Unknown || localFamily == AddressFamily.Unknown)
        {
            return false;
        }

        UInt128 remote = BinaryPrimitives.ReadUInt128BigEndian(headerBytes[16..]);
        UInt128 local = BinaryPrimitives.ReadUInt128BigEndian(headerBytes[32..]);
        ForwardedDatagramHeader parsed = ForwardedDatagramHeader.FromWire(
            remoteFamily, remote, BinaryPrimitives.ReadUInt16BigEndian(headerBytes[8..]),
            localFamily, local, BinaryPrimitives.ReadUInt16BigEndian(headerBytes[10..]),
            BinaryPrimitives.ReadUInt32BigEndian(headerBytes[12..]), (byte)(headerBytes[3] & EcnMask));
        if (!parsed.IsValid)
        {
            return false; // IPv4 padding or an address under an unknown local family
        }

        header = parsed;
        return true;
    }
}
