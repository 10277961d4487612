using System.Buffers.Binary;
using System.Net;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using AspNetQuicSteer.Sockets.Interop;

namespace AspNetQuicSteer.Sockets;

/// <summary>
/// Maps peers' raw sockaddrs to one cached <see cref="IPEndPoint"/> instance each, plus the local address the peer
/// last sent to, so that a known peer costs no allocation per datagram and the endpoint layer can rely on
/// reference-equal endpoints.
/// <para>A fixed-size open-addressing table (linear probing within a window of <see cref="ProbeWindow"/> entries).
/// Entries are never emptied, only overwritten, so a lookup may stop at the first empty entry. When a new peer
/// finds its window full, the least recently seen entry of that window is replaced: with more live peers than
/// entries, the idle ones lose their instance (and get a new one on their next datagram), never the busy ones.</para>
/// <para>The hash is seeded per table from a CSPRNG and the probe window is bounded, so peers choosing source
/// addresses and ports cannot force long probe chains (hash flooding): the worst case is <see cref="ProbeWindow"/>
/// comparisons.</para>
/// Keys are family-independent: an IPv4 sockaddr and its IPv4-mapped IPv6 form (RFC 4291 §2.5.5.2) are the same peer,
/// matching <see cref="SocketAddressCodec.AddressEquals"/>; sin6_flowinfo is ignored. Not thread-safe.
/// </summary>
internal sealed class RemoteEndPointTable
{
    /// <summary>Entries probed at most per lookup.</summary>
    internal const int ProbeWindow = 16;

    /// <summary>Sentinel for "no entry".</summary>
    internal const int None = -1;

    private readonly Entry[] _entries;
    private readonly int _mask;
    private readonly ulong _seed;
    private long _clock;

    /// <param name="capacity">Number of entries; a power of two of at least <see cref="ProbeWindow"/>.</param>
    internal RemoteEndPointTable(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, ProbeWindow);
        if (!int.IsPow2(capacity)) throw new ArgumentException("The capacity must be a power of two.", nameof(capacity));
        _entries = new Entry[capacity];
        _mask = capacity - 1;
        Span<byte> seed = stackalloc byte[8];
        RandomNumberGenerator.Fill(seed);
        _seed = BinaryPrimitives.ReadUInt64LittleEndian(seed);
    }

    internal int Capacity => _entries.Length;

    /// <summary>Endpoints allocated so far: one per new (or evicted and returning) peer.</summary>
    internal long Created { get; private set; }

    /// <summary>Entries replaced while still holding another peer.</summary>
    internal long Evictions { get; private set; }

    /// <summary>
    /// Returns the cached endpoint for <paramref name="sockaddr"/>, creating (and caching) one for a new peer, and its
    /// entry index for <see cref="SetLocalAddress"/>. Throws <see cref="ArgumentException"/> for a sockaddr that is
    /// neither a full sockaddr_in nor sockaddr_in6.
    /// </summary>
    internal IPEndPoint Resolve(ReadOnlySpan<byte> sockaddr, out int entry)
    {
        if (!TryReadKey(sockaddr, out Key key)) throw new ArgumentException("Not an AF_INET/AF_INET6 sockaddr.", nameof(sockaddr));
        long now = ++_clock;
        int home = Home(in key);
        int victim = home;
        long oldest = long.MaxValue;
        for (int probe = 0; probe < ProbeWindow; probe++)
        {
            int index = (home + probe) & _mask;
            ref Entry candidate = ref _entries[index];
            if (candidate.EndPoint is null)
            {
                victim = index; // never used: the key cannot be further along (entries are never emptied)
                break;
            }

            if (candidate.Key.Equals(in key))
            {
                candidate.LastUsed = now;
                entry = index;
                return candidate.EndPoint;
            }

            if (candidate.LastUsed < oldest)
            {
                oldest = candidate.LastUsed;
                victim = index;
            }
        }

        ref Entry slot = ref _entries[victim];
        if (slot.EndPoint is not null) Evictions++;
        IPEndPoint created = SocketAddressCodec.ToIPEndPoint(sockaddr);
        Created++;
        slot = new Entry { Key = key, EndPoint = created, LastUsed = now };
        entry = victim;
        return created;
    }

    /// <summary>The entry holding <paramref name="sockaddr"/>'s peer, or <see cref="None"/>. Does not refresh its age.</summary>
    internal int Find(ReadOnlySpan<byte> sockaddr)
    {
        if (!TryReadKey(sockaddr, out Key key)) return None;
        int home = Home(in key);
        for (int probe = 0; probe < ProbeWindow; probe++)
        {
            int index = (home + probe) & _mask;
            ref Entry candidate = ref _entries[index];
            if (candidate.EndPoint is null) return None;
            if (candidate.Key.Equals(in key)) return index;
        }

        return None;
    }

    /// <summary>The endpoint instance an entry holds now (null if unused); compare by reference to detect replacement.</summary>
    internal IPEndPoint? GetEndPoint(int entry) => _entries[entry].EndPoint;

    /// <summary>Records the local address (IP_PKTINFO destination) the entry's peer last sent to.</summary>
    internal void SetLocalAddress(int entry, ReadOnlySpan<byte> address, int interfaceIndex)
    {
        ref DatagramBatch.LocalAddress local = ref _entries[entry].Local;
        local = default;
        address.CopyTo(local.Bytes);
        local.Length = (byte)address.Length;
        local.InterfaceIndex = interfaceIndex;
    }

    /// <summary>The local address recorded for an entry (empty when none was).</summary>
    internal ReadOnlySpan<byte> GetLocalAddress(int entry, out int interfaceIndex)
    {
        ref DatagramBatch.LocalAddress local = ref _entries[entry].Local;
        interfaceIndex = local.InterfaceIndex;
        return MemoryMarshal.CreateReadOnlySpan(ref local.Bytes[0], local.Length);
    }

    private int Home(in Key key)
    {
        // Seeded multiply-xorshift mixing of the key's 64-bit words (the murmur3/xxHash finalizer, "fmix64").
        ulong h = Mix(_seed ^ key.High);
        h = Mix(h ^ key.Low);
        h = Mix(h ^ ((ulong)key.Port << 32) ^ key.Scope);
        return (int)h & _mask;
    }

    private static ulong Mix(ulong x)
    {
        x ^= x >> 33;
        x *= 0xFF51AFD7ED558CCDUL;
        x ^= x >> 33;
        x *= 0xC4CEB9FE1A85EC53UL;
        x ^= x >> 33;
        return x;
    }

    /// <summary>Reads the identifying fields in their IPv6 form: an IPv4 address becomes ::ffff:a.b.c.d.</summary>
    private static bool TryReadKey(ReadOnlySpan<byte> sockaddr, out Key key)
    {
        int family = SocketAddressCodec.ReadFamily(sockaddr);
        if (family == LinuxSocketInterop.AF_INET && sockaddr.Length >= SocketAddressCodec.IPv4Length)
        {
            // Little-endian load of the mapped address bytes 8..15: 00 00 FF FF a b c d.
            ulong v4 = BinaryPrimitives.ReadUInt32LittleEndian(sockaddr.Slice(4, 4));
            key = new Key(0, 0xFFFF_0000UL | (v4 << 32), BinaryPrimitives.ReadUInt16LittleEndian(sockaddr[2..]), 0);
            return true;
        }

        if (family == LinuxSocketInterop.AF_INET6 && sockaddr.Length >= SocketAddressCodec.IPv6Length)
        {
            key = new Key(
                BinaryPrimitives.ReadUInt64LittleEndian(sockaddr.Slice(8, 8)),
                BinaryPrimitives.ReadUInt64LittleEndian(sockaddr.Slice(16, 8)),
                BinaryPrimitives.ReadUInt16LittleEndian(sockaddr[2..]),
                BinaryPrimitives.ReadUInt32LittleEndian(sockaddr.Slice(24, 4)));
            return true;
        }

        key = default;
        return false;
    }

    private readonly struct Key(ulong high, ulong low, ushort port, uint scope)
    {
        public readonly ulong High = high;
        public readonly ulong Low = low;
        public readonly ushort Port = port;
        public readonly uint Scope = scope;

        public bool Equals(in Key other) =>
            High == other.High && Low == other.Low && Port == other.Port && Scope == other.Scope;
    }

    private struct Entry
    {
        public Key Key;
        public IPEndPoint? EndPoint;
        public long LastUsed;
        public DatagramBatch.LocalAddress Local;
    }
}
