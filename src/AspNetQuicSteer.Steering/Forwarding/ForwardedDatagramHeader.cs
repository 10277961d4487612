using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using AspNetQuicSteer.Sockets;
using AspNetQuicSteer.Sockets.Interop;

namespace AspNetQuicSteer.Steering.Forwarding;

/// <summary>
/// The addressing a forwarded QUIC datagram carries from the generation that received it on the shared UDP port to
/// the generation that owns its connection: who sent it (the client's address and port), which of our addresses it
/// was sent to (the destination from IP_PKTINFO / IPV6_PKTINFO on a wildcard bind, ip(7), ipv6(7)), the interface it
/// arrived on and its ECN codepoint. The owner needs exactly this to process the datagram as if it had received it
/// itself and to answer from the address the client dialled (<see cref="ReplyFromSharedPort"/>).
/// <para>Addresses are held as 128-bit values (IPv4 in the top 32 bits, the way the wire format stores them), so the
/// struct is small, comparable and built or read without allocating. An IPv4 peer seen through a dual-mode IPv6
/// socket stays IPv4-mapped IPv6 (RFC 4291 §2.5.5.2); the reply path converts it back for the socket's family.</para>
/// </summary>
internal readonly struct ForwardedDatagramHeader : IEquatable<ForwardedDatagramHeader>
{
    private readonly UInt128 _remoteAddress;
    private readonly UInt128 _localAddress;

    private ForwardedDatagramHeader(
        AddressFamily remoteFamily, UInt128 remoteAddress, ushort remotePort,
        AddressFamily localFamily, UInt128 localAddress, ushort localPort,
        uint interfaceIndex, byte ecn)
    {
        RemoteFamily = remoteFamily;
        _remoteAddress = remoteAddress;
        RemotePort = remotePort;
        LocalFamily = localFamily;
        _localAddress = localAddress;
        LocalPort = localPort;
        InterfaceIndex = interfaceIndex;
        Ecn = ecn;
    }

    /// <summary><see cref="AddressFamily.InterNetwork"/> or <see cref="AddressFamily.InterNetworkV6"/>; anything else is invalid.</summary>
    public AddressFamily RemoteFamily { get; }

    /// <summary>The client's UDP port.</summary>
    public ushort RemotePort { get; }

    /// <summary>
    /// Family of the address the client sent to, or <see cref="AddressFamily.Unspecified"/> when the receiving
    /// generation did not know it (no packet information); the reply then lets routing choose the source address.
    /// </summary>
    public AddressFamily LocalFamily { get; }

    /// <summary>The shared UDP port the datagram arrived on.</summary>
    public ushort LocalPort { get; }

    /// <summary>
    /// Interface the datagram arrived on (ipi_ifindex / ipi6_ifindex; 0 = unknown). Also the scope of a link-local
    /// IPv6 client address or destination (RFC 4291 §2.5.6), which only means something together with an interface.
    /// </summary>
    public uint InterfaceIndex { get; }

    /// <summary>ECN codepoint of the IP header (RFC 3168 §5: 0 Not-ECT, 1 ECT(1), 2 ECT(0), 3 CE).</summary>
    public byte Ecn { get; }

    /// <summary>True when the header can be encoded: a known remote family, a known or absent local family, ECN ≤ 3.</summary>
    public bool IsValid =>
        RemoteFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6
        && LocalFamily is AddressFamily.Unspecified or AddressFamily.InterNetwork or AddressFamily.InterNetworkV6
        && Ecn <= 3
        && (RemoteFamily != AddressFamily.InterNetwork || IsIPv4Shaped(_remoteAddress))
        && (LocalFamily != AddressFamily.InterNetwork || IsIPv4Shaped(_localAddress))
        && (LocalFamily != AddressFamily.Unspecified || _localAddress == UInt128.Zero);

    /// <summary>
    /// Builds a header from endpoints without allocating. <paramref name="local"/> null (or a wildcard address) means
    /// "destination unknown". The interface index defaults to the scope id of an IPv6 remote or local address.
    /// </summary>
    public static ForwardedDatagramHeader Create(IPEndPoint remote, IPEndPoint? local, uint interfaceIndex = 0, byte ecn = 0)
    {
        ArgumentNullException.ThrowIfNull(remote);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ecn, (byte)3);
        (AddressFamily remoteFamily, UInt128 remoteAddress) = Pack(remote.Address);
        if (remoteFamily == AddressFamily.Unspecified)
        {
            throw new ArgumentException("Only IPv4 and IPv6 endpoints are supported.", nameof(remote));
        }

        if (interfaceIndex == 0 && remoteFamily == AddressFamily.InterNetworkV6)
        {
            interfaceIndex = (uint)remote.Address.ScopeId;
        }

        AddressFamily localFamily = AddressFamily.Unspecified;
        UInt128 localAddress = UInt128.Zero;
        ushort localPort = 0;
        if (local is not null)
        {
            (localFamily, localAddress) = Pack(local.Address);
            if (localAddress == UInt128.Zero)
            {
                localFamily = AddressFamily.Unspecified; // 0.0.0.0 / :: — the bind address, not a destination
            }

            if (interfaceIndex == 0 && localFamily == AddressFamily.InterNetworkV6)
            {
                interfaceIndex = (uint)local.Address.ScopeId;
            }

            localPort = (ushort)local.Port;
        }

        return new ForwardedDatagramHeader(remoteFamily, remoteAddress, (ushort)remote.Port, localFamily, localAddress, localPort, interfaceIndex, ecn);
    }

    /// <summary>
    /// Builds a header from the raw forms a received <c>DatagramBatch</c> slot holds: the source sockaddr
    /// (<see cref="SocketAddressCodec"/> layout) and the destination address bytes from packet information (4, 16 or
    /// 0 bytes). Returns false when the sockaddr is not AF_INET/AF_INET6 or the address length is not 0, 4 or 16.
    /// </summary>
    public static bool TryCreate(
        ReadOnlySpan<byte> remoteSockAddr, ReadOnlySpan<byte> localAddress, ushort localPort, uint interfaceIndex, byte ecn,
        out ForwardedDatagramHeader header)
    {
        header = default;
        if (ecn > 3 || localAddress.Length is not (0 or 4 or 16))
        {
            return false;
        }

        AddressFamily remoteFamily;
        UInt128 remote;
        int family = SocketAddressCodec.ReadFamily(remoteSockAddr);
        if (family == LinuxSocketInterop.AF_INET && remoteSockAddr.Length >= SocketAddressCodec.IPv4Length)
        {
            remoteFamily = AddressFamily.InterNetwork;
            remote = (UInt128)BinaryPrimitives.ReadUInt32BigEndian(remoteSockAddr[4..]) << 96;
        }
        else if (family == LinuxSocketInterop.AF_INET6 && remoteSockAddr.Length >= SocketAddressCodec.IPv6Length)
        {
            remoteFamily = AddressFamily.InterNetworkV6;
            remote = BinaryPrimitives.ReadUInt128BigEndian(remoteSockAddr[8..]);
            if (interfaceIndex == 0)
            {
                interfaceIndex = SocketAddressCodec.ReadHostUInt32(remoteSockAddr[24..]);
            }
        }
        else
        {
            return false;
        }

        ushort remotePort = BinaryPrimitives.ReadUInt16BigEndian(remoteSockAddr[2..]);
        (AddressFamily localFamily, UInt128 local) = localAddress.Length switch
        {
            4 => (AddressFamily.InterNetwork, (UInt128)BinaryPrimitives.ReadUInt32BigEndian(localAddress) << 96),
            16 => (AddressFamily.InterNetworkV6, BinaryPrimitives.ReadUInt128BigEndian(localAddress)),
            _ => (AddressFamily.Unspecified, UInt128.Zero),
        };
        if (local == UInt128.Zero)
        {
            localFamily = AddressFamily.Unspecified;
        }

        header = new ForwardedDatagramHeader(remoteFamily, remote, remotePort, localFamily, local, localPort, interfaceIndex, ecn);
        return true;
    }

    /// <summary>Used by the wire parser, which has validated every field.</summary>
    internal static ForwardedDatagramHeader FromWire(
        AddressFamily remoteFamily, UInt128 remoteAddress, ushort remotePort,
        AddressFamily localFamily, UInt128 localAddress, ushort localPort, uint interfaceIndex, byte ecn) =>
        new(remoteFamily, remoteAddress, remotePort, localFamily, localAddress, localPort, interfaceIndex, ecn);

    internal UInt128 RemoteAddressBits => _remoteAddress;

    internal UInt128 LocalAddressBits => _localAddress;

    /// <summary>Copies the client address (4 or 16 bytes, network order) into <paramref name="destination"/>; returns its length.</summary>
    public int WriteRemoteAddress(Span<byte> destination) => WriteAddress(RemoteFamily, _remoteAddress, destination);

    /// <summary>Copies the destination address (0, 4 or 16 bytes) into <paramref name="destination"/>; returns its length.</summary>
    public int WriteLocalAddress(Span<byte> destination) => WriteAddress(LocalFamily, _localAddress, destination);

    /// <summary>
    /// Writes the client endpoint as a Linux sockaddr_in / sockaddr_in6 in the <see cref="SocketAddressCodec"/> layout
    /// (destination must hold <see cref="SocketAddressCodec.MaxLength"/> bytes); returns its length, 0 if invalid.
    /// The IPv6 scope id is <see cref="InterfaceIndex"/> for a link-local client and 0 otherwise.
    /// </summary>
    public int WriteRemoteSockAddr(Span<byte> destination)
    {
        if (destination.Length < SocketAddressCodec.MaxLength)
        {
            throw new ArgumentException($"Destination must hold at least {SocketAddressCodec.MaxLength} bytes.", nameof(destination));
        }

        destination[..SocketAddressCodec.MaxLength].Clear();
        if (RemoteFamily == AddressFamily.InterNetwork)
        {
            SocketAddressCodec.WriteFamily(destination, LinuxSocketInterop.AF_INET);
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], RemotePort);
            BinaryPrimitives.WriteUInt32BigEndian(destination[4..], (uint)(_remoteAddress >> 96));
            return SocketAddressCodec.IPv4Length;
        }

        if (RemoteFamily == AddressFamily.InterNetworkV6)
        {
            SocketAddressCodec.WriteFamily(destination, LinuxSocketInterop.AF_INET6);
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], RemotePort);
            BinaryPrimitives.WriteUInt128BigEndian(destination[8..], _remoteAddress);
            uint scope = IsLinkLocal(_remoteAddress) ? InterfaceIndex : 0;
            if (BitConverter.IsLittleEndian)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(destination[24..], scope);
            }
            else
            {
                BinaryPrimitives.WriteUInt32BigEndian(destination[24..], scope);
            }

            return SocketAddressCodec.IPv6Length;
        }

        return 0;
    }

    /// <summary>Off the hot path (allocates): the client endpoint.</summary>
    public IPEndPoint GetRemoteEndPoint() => new(ToAddress(RemoteFamily, _remoteAddress, InterfaceIndex), RemotePort);

    /// <summary>Off the hot path (allocates): the endpoint the client sent to, or null when unknown.</summary>
    public IPEndPoint? GetLocalEndPoint() =>
        LocalFamily == AddressFamily.Unspecified ? null : new(ToAddress(LocalFamily, _localAddress, InterfaceIndex), LocalPort);

    public bool Equals(ForwardedDatagramHeader other) =>
        RemoteFamily == other.RemoteFamily && _remoteAddress == other._remoteAddress && RemotePort == other.RemotePort
        && LocalFamily == other.LocalFamily && _localAddress == other._localAddress && LocalPort == other.LocalPort
        && InterfaceIndex == other.InterfaceIndex && Ecn == other.Ecn;

    public override bool Equals(object? obj) => obj is ForwardedDatagramHeader other && Equals(other);

    public override int GetHashCode() =>
        HashCode.Combine(_remoteAddress, RemotePort, _localAddress, LocalPort, InterfaceIndex, Ecn, (int)RemoteFamily, (int)LocalFamily);

    public static bool operator ==(ForwardedDatagramHeader left, ForwardedDatagramHeader right) => left.Equals(right);

    public static bool operator !=(ForwardedDatagramHeader left, ForwardedDatagramHeader right) => !left.Equals(right);

    /// <summary>Diagnostics (allocates).</summary>
    public override string ToString() =>
        IsValid ? $"{GetRemoteEndPoint()} -> {GetLocalEndPoint()?.ToString() ?? $"?:{LocalPort}"} if{InterfaceIndex} ecn{Ecn}" : "(invalid)";

    private static (AddressFamily Family, UInt128 Address) Pack(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        if (address.AddressFamily == AddressFamily.InterNetwork && address.TryWriteBytes(bytes, out _))
        {
            return (AddressFamily.InterNetwork, (UInt128)BinaryPrimitives.ReadUInt32BigEndian(bytes) << 96);
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6 && address.TryWriteBytes(bytes, out _))
        {
            return (AddressFamily.InterNetworkV6, BinaryPrimitives.ReadUInt128BigEndian(bytes));
        }

        return (AddressFamily.Unspecified, UInt128.Zero);
    }

    private static int WriteAddress(AddressFamily family, UInt128 address, Span<byte> destination)
    {
        switch (family)
        {
            case AddressFamily.InterNetwork:
                BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)(address >> 96));
                return 4;
            case AddressFamily.InterNetworkV6:
                BinaryPrimitives.WriteUInt128BigEndian(destination, address);
                return 16;
            default:
                return 0;
        }
    }

    private static IPAddress ToAddress(AddressFamily family, UInt128 address, uint interfaceIndex)
    {
        Span<byte> bytes = stackalloc byte[16];
        int length = WriteAddress(family, address, bytes);
        return length == 4 ? new IPAddress(bytes[..4])
            : length == 16 ? new IPAddress(bytes, IsLinkLocal(address) ? interfaceIndex : 0)
            : throw new InvalidOperationException("The header has no valid address of this kind.");
    }

    /// <summary>An IPv4 address occupies the top 32 bits; the other 96 must be zero.</summary>
    internal static bool IsIPv4Shaped(UInt128 address) => (address & ((UInt128.One << 96) - 1)) == UInt128.Zero;

    // RFC 4291 §2.5.6: fe80::/10.
    private static bool IsLinkLocal(UInt128 address) => (ushort)(address >> 112) is >= 0xFE80 and <= 0xFEBF;
}
