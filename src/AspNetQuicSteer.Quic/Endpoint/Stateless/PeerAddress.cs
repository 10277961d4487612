using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace AspNetQuicSteer.Quic.Endpoint.Stateless;

/// <summary>
/// A client's UDP address as the stateless machinery binds tokens to it (RFC 9000 §8.1): the IP address bytes
/// (4 for IPv4, 16 for IPv6; IPv4-mapped IPv6 addresses from dual-stack sockets are normalized to IPv4 so a
/// token issued on one socket validates on another) and the port. Stored inline, so building, copying and
/// comparing one never allocates: the hot path converts the already-allocated <see cref="IPEndPoint"/> that the
/// socket layer hands the endpoint with <see cref="TryFromEndPoint"/>. The IPv6 scope id is ignored.
/// </summary>
internal readonly struct PeerAddress : IEquatable<PeerAddress>
{
    public const int MaxAddressLength = 16;

    private readonly AddressBytes _bytes;
    private readonly byte _length;

    /// <summary>Builds from raw address bytes (4 or 16; an IPv4-mapped IPv6 address becomes IPv4).</summary>
    public PeerAddress(ReadOnlySpan<byte> address, ushort port)
    {
        if (address.Length == 16 && IsIPv4Mapped(address))
        {
            address = address[12..];
        }

        if (address.Length is not (4 or 16))
        {
            throw new ArgumentException("An IP address is 4 or 16 bytes.", nameof(address));
        }

        address.CopyTo(_bytes);
        _length = (byte)address.Length;
        Port = port;
    }

    public ushort Port { get; }

    /// <summary>4 bytes (IPv4) or 16 bytes (IPv6), network order; empty for <c>default</c>.</summary>
    [UnscopedRef]
    public ReadOnlySpan<byte> Address => ((ReadOnlySpan<byte>)_bytes)[.._length];

    public bool IsEmpty => _length == 0;

    /// <summary>Allocation-free conversion; false for anything but an IPv4/IPv6 <see cref="IPEndPoint"/>.</summary>
    public static bool TryFromEndPoint(EndPoint? endPoint, out PeerAddress address)
    {
        if (endPoint is IPEndPoint ip && ip.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
        {
            Span<byte> bytes = stackalloc byte[MaxAddressLength];
            if (ip.Address.TryWriteBytes(bytes, out int written))
            {
                address = new PeerAddress(bytes[..written], (ushort)ip.Port);
                return true;
            }
        }

        address = default;
        return false;
    }

    public static PeerAddress FromEndPoint(IPEndPoint endPoint)
        => TryFromEndPoint(endPoint, out PeerAddress address)
            ? address
            : throw new ArgumentException("Only IPv4 and IPv6 endpoints are supported.", nameof(endPoint));

    /// <summary>Same IP address, ignoring the port (what a NEW_TOKEN token is bound to, RFC 9000 §8.1.3).</summary>
    public bool SameAddress(in PeerAddress other) => Address.SequenceEqual(other.Address);

    public bool Equals(PeerAddress other) => Port == other.Port && SameAddress(other);

    public override bool Equals(object? obj) => obj is PeerAddress other && Equals(other);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(Address);
        hash.Add(Port);
        return hash.ToHashCode();
    }

    public override string ToString()
        => IsEmpty ? "(none)" : new IPEndPoint(new IPAddress(Address), Port).ToString();

    public static bool operator ==(PeerAddress left, PeerAddress right) => left.Equals(right);

    public static bool operator !=(PeerAddress left, PeerAddress right) => !left.Equals(right);

    private static bool IsIPv4Mapped(ReadOnlySpan<byte> address)
        => address[..10].IndexOfAnyExcept((byte)0) < 0 && address[10] == 0xFF && address[11] == 0xFF;

    [InlineArray(MaxAddressLength)]
    private struct AddressBytes
    {
        private byte _element0;
    }
}
