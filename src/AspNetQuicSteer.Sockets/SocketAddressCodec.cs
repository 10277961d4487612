using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using AspNetQuicSteer.Sockets.Interop;

namespace AspNetQuicSteer.Sockets;

/// <summary>
/// Converts between <see cref="IPEndPoint"/> and the raw sockaddr bytes a <see cref="DatagramBatch"/> stores.
/// The raw format is the Linux one on every platform (sockaddr_in: 16 bytes, sockaddr_in6: 28 bytes; family in
/// host order with AF_INET = 2 / AF_INET6 = 10; port in network order), so the native path hands the bytes to the
/// kernel untouched. These conversions allocate and are meant for off-hot-path use (connection setup, logging).
/// </summary>
internal static class SocketAddressCodec
{
    /// <summary>Bytes reserved per address: sockaddr_in6 (28) rounded up to 8.</summary>
    internal const int MaxLength = 32;
    internal const int IPv4Length = 16;
    internal const int IPv6Length = 28;

    /// <summary>Writes <paramref name="endPoint"/> as a sockaddr; returns the length written.</summary>
    internal static int Write(IPEndPoint endPoint, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        if (destination.Length < MaxLength)
        {
            throw new ArgumentException("Destination must hold at least 32 bytes.", nameof(destination));
        }

        destination[..MaxLength].Clear();
        if (endPoint.AddressFamily == AddressFamily.InterNetwork)
        {
            WriteFamily(destination, LinuxSocketInterop.AF_INET);
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)endPoint.Port);
            endPoint.Address.TryWriteBytes(destination.Slice(4, 4), out _);
            return IPv4Length;
        }

        if (endPoint.AddressFamily == AddressFamily.InterNetworkV6)
        {
            WriteFamily(destination, LinuxSocketInterop.AF_INET6);
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)endPoint.Port);
            endPoint.Address.TryWriteBytes(destination.Slice(8, 16), out _);
            WriteHostUInt32(destination[24..], (uint)endPoint.Address.ScopeId);
            return IPv6Length;
        }

        throw new ArgumentException("Only IPv4 and IPv6 endpoints are supported.", nameof(endPoint));
    }

    /// <summary>Reads a sockaddr written by the kernel or by <see cref="Write"/>.</summary>
    internal static IPEndPoint ToIPEndPoint(ReadOnlySpan<byte> sockaddr)
    {
        int family = ReadFamily(sockaddr);
        int port = BinaryPrimitives.ReadUInt16BigEndian(sockaddr[2..]);
        if (family == LinuxSocketInterop.AF_INET && sockaddr.Length >= IPv4Length)
        {
            return new IPEndPoint(new IPAddress(sockaddr.Slice(4, 4)), port);
        }

        if (family == LinuxSocketInterop.AF_INET6 && sockaddr.Length >= IPv6Length)
        {
            return new IPEndPoint(new IPAddress(sockaddr.Slice(8, 16), ReadHostUInt32(sockaddr[24..])), port);
        }

        throw new ArgumentException("Not an AF_INET/AF_INET6 sockaddr.", nameof(sockaddr));
    }

    internal static int ReadFamily(ReadOnlySpan<byte> sockaddr) =>
        sockaddr.Length < 2 ? 0 : BitConverter.IsLittleEndian
            ? BinaryPrimitives.ReadUInt16LittleEndian(sockaddr)
            : BinaryPrimitives.ReadUInt16BigEndian(sockaddr);

    /// <summary>
    /// Compares family, port, address and (IPv6) scope id; ignores sin_zero and sin6_flowinfo, which do not
    /// identify a peer. An IPv4 sockaddr and its IPv4-mapped IPv6 form (RFC 4291 §2.5.5.2) compare equal.
    /// </summary>
    internal static bool AddressEquals(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        int fa = ReadFamily(a);
        int fb = ReadFamily(b);
        if (fa == fb)
        {
            return fa switch
            {
                LinuxSocketInterop.AF_INET => a[..8].SequenceEqual(b[..8]),
                LinuxSocketInterop.AF_INET6 => a[..4].SequenceEqual(b[..4]) && a.Slice(8, 20).SequenceEqual(b.Slice(8, 20)),
                _ => false,
            };
        }

        return fa == LinuxSocketInterop.AF_INET6 ? V4EqualsMapped(b, a) : V4EqualsMapped(a, b);
    }

    // v4 is a sockaddr_in, v6 a sockaddr_in6: equal when v6 is ::ffff:v4 with the same port.
    private static bool V4EqualsMapped(ReadOnlySpan<byte> v4, ReadOnlySpan<byte> v6) =>
        ReadFamily(v4) == LinuxSocketInterop.AF_INET && ReadFamily(v6) == LinuxSocketInterop.AF_INET6
            && v4.Slice(2, 2).SequenceEqual(v6.Slice(2, 2))
            && IsV4Mapped(v6.Slice(8, 16)) && v4.Slice(4, 4).SequenceEqual(v6.Slice(20, 4));

    /// <summary>
    /// Writes <paramref name="source"/> in the family of a socket: an IPv4 sockaddr becomes IPv4-mapped IPv6 for an
    /// AF_INET6 (dual-mode) socket, and an IPv4-mapped IPv6 sockaddr becomes IPv4 for an AF_INET socket.
    /// Returns the length, or 0 when the address cannot be expressed in that family.
    /// </summary>
    internal static int WriteForFamily(ReadOnlySpan<byte> source, int socketFamily, Span<byte> destination)
    {
        int family = ReadFamily(source);
        destination[..MaxLength].Clear();
        if (family == socketFamily)
        {
            int length = family == LinuxSocketInterop.AF_INET ? IPv4Length : IPv6Length;
            source[..length].CopyTo(destination);
            return length;
        }

        if (family == LinuxSocketInterop.AF_INET && socketFamily == LinuxSocketInterop.AF_INET6)
        {
            WriteFamily(destination, LinuxSocketInterop.AF_INET6);
            source.Slice(2, 2).CopyTo(destination[2..]);
            destination[18] = 0xFF;
            destination[19] = 0xFF;
            source.Slice(4, 4).CopyTo(destination[20..]);
            return IPv6Length;
        }

        if (family == LinuxSocketInterop.AF_INET6 && socketFamily == LinuxSocketInterop.AF_INET && IsV4Mapped(source.Slice(8, 16)))
        {
            WriteFamily(destination, LinuxSocketInterop.AF_INET);
            source.Slice(2, 2).CopyTo(destination[2..]);
            source.Slice(20, 4).CopyTo(destination[4..]);
            return IPv4Length;
        }

        return 0;
    }

    internal static bool IsV4Mapped(ReadOnlySpan<byte> address16) =>
        address16[..10].IndexOfAnyExcept((byte)0) < 0 && address16[10] == 0xFF && address16[11] == 0xFF;

    internal static void WriteFamily(Span<byte> destination, int family)
    {
        if (BitConverter.IsLittleEndian)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(destination, (ushort)family);
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)family);
        }
    }

    private static void WriteHostUInt32(Span<byte> destination, uint value)
    {
        if (BitConverter.IsLittleEndian)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(destination, value);
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination, value);
        }
    }

    internal static uint ReadHostUInt32(ReadOnlySpan<byte> source) => BitConverter.IsLittleEndian
        ? BinaryPrimitives.ReadUInt32LittleEndian(source)
        : BinaryPrimitives.ReadUInt32BigEndian(source);
}
