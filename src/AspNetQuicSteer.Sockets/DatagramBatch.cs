using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using AspNetQuicSteer.Sockets.Interop;

namespace AspNetQuicSteer.Sockets;

/// <summary>
/// A reusable set of datagram slots for <see cref="BatchedUdpSocket"/>: per slot a payload buffer, its length,
/// the remote address (raw sockaddr bytes, see <see cref="SocketAddressCodec"/>), the local address the datagram
/// was sent to / should be sent from (IP_PKTINFO), and on receive the GRO segment size.
/// All memory — payloads, sockaddrs, control-message space, iovec and mmsghdr arrays — is allocated once on the
/// pinned object heap, so the kernel can be handed pointers without per-call pinning or allocation.
/// A batch is not thread-safe; use one per direction per thread.
/// </summary>
internal sealed unsafe class DatagramBatch
{
    /// <summary>Default number of slots.</summary>
    internal const int DefaultCapacity = 64;

    /// <summary>Default slot size: a 1500-byte Ethernet MTU holds any QUIC datagram we send (RFC 9000 §14).</summary>
    internal const int DefaultSlotSize = 1500;

    /// <summary>
    /// Slot size needed to receive with UDP_GRO: a coalesced skb carries up to 64 KiB of payload, and a smaller
    /// buffer truncates it (udp(7)/MSG_TRUNC), losing whole segments.
    /// </summary>
    internal const int GroSlotSize = 65535;

    /// <summary>Per-slot control space: CMSG_SPACE(int) for UDP_GRO/UDP_SEGMENT + CMSG_SPACE(in6_pktinfo) + CMSG_SPACE(in_pktinfo) = 24 + 40 + 32.</summary>
    internal const int ControlSize = 128;

    private readonly byte[] _data;
    private readonly byte[] _names;
    private readonly byte[] _sendNames;
    private readonly byte[] _control;
    private readonly IoVec[] _iov;
    private readonly MMsgHdr[] _headers;
    private readonly int[] _lengths;
    private readonly int[] _nameLengths;
    private readonly int[] _segmentSizes;
    private readonly bool[] _truncated;
    private readonly LocalAddress[] _local;
    private readonly int[] _entryEnd;

    internal DatagramBatch(int capacity = DefaultCapacity, int slotSize = DefaultSlotSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(slotSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(slotSize, GroSlotSize);
        Capacity = capacity;
        SlotSize = slotSize;
        _data = GC.AllocateArray<byte>(checked(capacity * slotSize), pinned: true);
        _names = GC.AllocateArray<byte>(capacity * SocketAddressCodec.MaxLength, pinned: true);
        _sendNames = GC.AllocateArray<byte>(capacity * SocketAddressCodec.MaxLength, pinned: true);
        _control = GC.AllocateArray<byte>(capacity * ControlSize, pinned: true);
        _iov = GC.AllocateArray<IoVec>(capacity, pinned: true);
        _headers = GC.AllocateArray<MMsgHdr>(capacity, pinned: true);
        _lengths = new int[capacity];
        _nameLengths = new int[capacity];
        _segmentSizes = new int[capacity];
        _truncated = new bool[capacity];
        _local = new LocalAddress[capacity];
        _entryEnd = new int[capacity];
    }

    /// <summary>Number of slots.</summary>
    internal int Capacity { get; }

    /// <summary>Bytes available per slot.</summary>
    internal int SlotSize { get; }

    /// <summary>The whole writable buffer of a slot (fill it, then call <see cref="SetLength"/>).</summary>
    internal Span<byte> GetBuffer(int slot) => _data.AsSpan(SlotOffset(slot), SlotSize);

    /// <summary>Payload length of a slot.</summary>
    internal int GetLength(int slot) => _lengths[CheckSlot(slot)];

    internal void SetLength(int slot, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, SlotSize);
        _lengths[CheckSlot(slot)] = length;
    }

    /// <summary>The received (or to-be-sent) bytes of a slot; with GRO this may hold several segments.</summary>
    internal Span<byte> GetDatagram(int slot) => _data.AsSpan(SlotOffset(slot), _lengths[slot]);

    /// <summary>Whether the kernel truncated the datagram because the slot was too small (MSG_TRUNC).</summary>
    internal bool IsTruncated(int slot) => _truncated[CheckSlot(slot)];

    /// <summary>
    /// Segment size of a received slot: the UDP_GRO cmsg value when the kernel coalesced datagrams (udp(7): "the
    /// segment size is passed as a cmsg of type UDP_GRO"), otherwise the whole length. Every segment has this
    /// size except possibly the last, which may be shorter.
    /// </summary>
    internal int GetSegmentSize(int slot)
    {
        int segment = _segmentSizes[CheckSlot(slot)];
        return segment > 0 && segment < _lengths[slot] ? segment : _lengths[slot];
    }

    /// <summary>Number of datagrams a received slot holds (1 unless GRO coalesced several).</summary>
    internal int GetSegmentCount(int slot)
    {
        int length = GetLength(slot);
        int segment = GetSegmentSize(slot);
        return segment == 0 ? 1 : (length + segment - 1) / segment;
    }

    /// <summary>The <paramref name="index"/>-th datagram of a (possibly GRO-coalesced) slot.</summary>
    internal Span<byte> GetSegment(int slot, int index)
    {
        int segment = GetSegmentSize(slot);
        int start = checked(index * segment);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        if (index > 0 && start >= _lengths[slot])
        {
            throw new ArgumentOutOfRangeException(nameof(index));
        }

        return _data.AsSpan(SlotOffset(slot) + start, Math.Min(segment, _lengths[slot] - start));
    }

    /// <summary>Raw sockaddr of the remote peer (source on receive, destination on send).</summary>
    internal ReadOnlySpan<byte> GetRemoteAddress(int slot) =>
        _names.AsSpan(CheckSlot(slot) * SocketAddressCodec.MaxLength, _nameLengths[slot]);

    internal void SetRemoteAddress(int slot, ReadOnlySpan<byte> sockaddr)
    {
        int family = SocketAddressCodec.ReadFamily(sockaddr);
        int length = family == LinuxSocketInterop.AF_INET ? SocketAddressCodec.IPv4Length
            : family == LinuxSocketInterop.AF_INET6 ? SocketAddressCodec.IPv6Length
            : throw new ArgumentException("Not an AF_INET/AF_INET6 sockaddr.", nameof(sockaddr));
        Span<byte> name = _names.AsSpan(CheckSlot(slot) * SocketAddressCodec.MaxLength, SocketAddressCodec.MaxLength);
        name.Clear();
        sockaddr[..length].CopyTo(name);
        _nameLengths[slot] = length;
    }

    /// <summary>Off the hot path: sets the destination from an endpoint (prefer caching the raw bytes once).</summary>
    internal void SetRemoteEndPoint(int slot, IPEndPoint endPoint)
    {
        Span<byte> raw = stackalloc byte[SocketAddressCodec.MaxLength];
        int length = SocketAddressCodec.Write(endPoint, raw);
        SetRemoteAddress(slot, raw[..length]);
    }

    /// <summary>Off the hot path (allocates): the remote address as an endpoint.</summary>
    internal IPEndPoint GetRemoteEndPoint(int slot) => SocketAddressCodec.ToIPEndPoint(GetRemoteAddress(slot));

    /// <summary>Whether two slots have the same remote peer (see <see cref="SocketAddressCodec.AddressEquals"/>).</summary>
    internal bool RemoteAddressEquals(int slot, ReadOnlySpan<byte> sockaddr) =>
        SocketAddressCodec.AddressEquals(GetRemoteAddress(slot), sockaddr);

    /// <summary>
    /// Local address of a slot: on receive the destination address of the datagram (IP_PKTINFO ipi_addr /
    /// IPV6_PKTINFO ipi6_addr); on send the source address to use (empty = let routing choose).
    /// 4 bytes for IPv4, 16 for IPv6 (possibly IPv4-mapped on a dual-mode socket).
    /// </summary>
    internal ReadOnlySpan<byte> GetLocalAddress(int slot)
    {
        ref LocalAddress local = ref _local[CheckSlot(slot)];
        return MemoryMarshal.CreateReadOnlySpan(ref local.Bytes[0], local.Length);
    }

    /// <summary>Interface index from IP_PKTINFO / IPV6_PKTINFO (0 = unknown/any).</summary>
    internal int GetLocalInterfaceIndex(int slot) => _local[CheckSlot(slot)].InterfaceIndex;

    /// <summary>Off the hot path (allocates): the local address, or null when unknown.</summary>
    internal IPAddress? GetLocalIPAddress(int slot)
    {
        ReadOnlySpan<byte> bytes = GetLocalAddress(slot);
        return bytes.IsEmpty ? null : new IPAddress(bytes);
    }

    /// <summary>Sets (or with null clears) the source address to send a slot from.</summary>
    internal void SetLocalAddress(int slot, IPAddress? address, int interfaceIndex = 0)
    {
        ref LocalAddress local = ref _local[CheckSlot(slot)];
        local = default;
        if (address is null)
        {
            return;
        }

        if (address.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
        {
            throw new ArgumentException("Only IPv4 and IPv6 addresses are supported.", nameof(address));
        }

        address.TryWriteBytes(local.Bytes, out int written);
        local.Length = (byte)written;
        local.InterfaceIndex = interfaceIndex;
    }

    /// <summary>
    /// Sets (or with an empty span clears) the source address of a slot from raw bytes — 4 for IPv4, 16 for IPv6 or
    /// IPv4-mapped — without allocating, e.g. an address taken from <see cref="GetLocalAddress"/> of a received slot.
    /// </summary>
    internal void SetLocalAddress(int slot, ReadOnlySpan<byte> address, int interfaceIndex)
    {
        if (address.Length is not (0 or 4 or 16))
        {
            throw new ArgumentException("An IPv4 (4-byte) or IPv6 (16-byte) address is required.", nameof(address));
        }

        ref LocalAddress local = ref _local[CheckSlot(slot)];
        local = default;
        address.CopyTo(local.Bytes);
        local.Length = (byte)address.Length;
        local.InterfaceIndex = address.IsEmpty ? 0 : interfaceIndex;
    }

    /// <summary>
    /// Prepares slot <paramref name="slot"/> to answer datagram <paramref name="receivedSlot"/> of
    /// <paramref name="received"/>: destination = its source, source = the address it was sent to.
    /// </summary>
    internal void SetReplyAddresses(int slot, DatagramBatch received, int receivedSlot)
    {
        ArgumentNullException.ThrowIfNull(received);
        SetRemoteAddress(slot, received.GetRemoteAddress(receivedSlot));
        _local[CheckSlot(slot)] = received._local[received.CheckSlot(receivedSlot)];
    }

    /// <summary>Resets receive metadata; used by the portable path.</summary>
    internal void ClearLocalAddress(int slot) => _local[slot] = default;

    internal void SetReceivedLocal(int slot, ReadOnlySpan<byte> address, int interfaceIndex)
    {
        ref LocalAddress local = ref _local[slot];
        address.CopyTo(local.Bytes);
        local.Length = (byte)address.Length;
        local.InterfaceIndex = interfaceIndex;
    }

    internal void SetReceiveMetadata(int slot, int length, int segmentSize, bool truncated)
    {
        _lengths[slot] = length;
        _segmentSizes[slot] = segmentSize;
        _truncated[slot] = truncated;
    }

    // ---- native plumbing (used by BatchedUdpSocket) ----

    internal MMsgHdr* Headers => (MMsgHdr*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_headers));

    private byte* DataPointer => (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_data));

    private static byte* NamePointer(byte[] names, int index) =>
        (byte*)Unsafe.AsPointer(ref names[index * SocketAddressCodec.MaxLength]);

    private byte* ControlPointer(int index) => (byte*)Unsafe.AsPointer(ref _control[index * ControlSize]);

    private IoVec* IoVecPointer(int index) => (IoVec*)Unsafe.AsPointer(ref _iov[index]);

    /// <summary>Points every mmsghdr at its slot, name and control space; the kernel rewrites the lengths each call.</summary>
    internal void PrepareReceive(int count)
    {
        byte* data = DataPointer;
        for (int i = 0; i < count; i++)
        {
            _iov[i].Base = data + ((nint)i * SlotSize);
            _iov[i].Length = (nuint)SlotSize;
            ref MsgHdr h = ref _headers[i].Header;
            h.Name = NamePointer(_names, i);
            h.NameLength = SocketAddressCodec.MaxLength;
            h.Iov = IoVecPointer(i);
            h.IovLength = 1;
            h.Control = ControlPointer(i);
            h.ControlLength = ControlSize;
            h.Flags = 0;
            _headers[i].Length = 0;
        }
    }

    /// <summary>Reads lengths, source sockaddrs and control messages the kernel wrote for <paramref name="count"/> slots.</summary>
    internal void CompleteReceive(int count)
    {
        for (int i = 0; i < count; i++)
        {
            ref MMsgHdr m = ref _headers[i];
            _lengths[i] = (int)m.Length;
            _nameLengths[i] = (int)Math.Min(m.Header.NameLength, (uint)SocketAddressCodec.MaxLength);
            _truncated[i] = (m.Header.Flags & LinuxSocketInterop.MSG_TRUNC) != 0;
            _segmentSizes[i] = 0;
            _local[i] = default;
            ParseControl(i, m.Header.Control, (int)m.Header.ControlLength);
        }
    }

    private void ParseControl(int slot, byte* control, int controlLength)
    {
        // cmsg(3): walk with CMSG_FIRSTHDR/CMSG_NXTHDR semantics; each header is 16 bytes, data CMSG_ALIGNed.
        int offset = 0;
        while (offset + sizeof(CMsgHdr) <= controlLength)
        {
            CMsgHdr* c = (CMsgHdr*)(control + offset);
            int length = (int)c->Length;
            if (length < sizeof(CMsgHdr) || offset + length > controlLength)
            {
                break;
            }

            byte* payload = (byte*)(c + 1);
            if (c->Level == LinuxSocketInterop.SOL_UDP && c->Type == LinuxSocketInterop.UDP_GRO)
            {
                // udp_cmsg_recv(): put_cmsg(SOL_UDP, UDP_GRO, sizeof(int), &gso_size).
                _segmentSizes[slot] = *(int*)payload;
            }
            else if (c->Level == LinuxSocketInterop.SOL_IP && c->Type == LinuxSocketInterop.IP_PKTINFO)
            {
                // ip(7): ipi_addr is the destination address in the packet header.
                InPktInfo* info = (InPktInfo*)payload;
                SetReceivedLocal(slot, new ReadOnlySpan<byte>(&info->Address, 4), info->InterfaceIndex);
            }
            else if (c->Level == LinuxSocketInterop.SOL_IPV6 && c->Type == LinuxSocketInterop.IPV6_PKTINFO)
            {
                // ipv6(7)/RFC 3542 §6.1: ipi6_addr is the destination; IPv4 on a dual-mode socket arrives v4-mapped.
                In6PktInfo* info = (In6PktInfo*)payload;
                SetReceivedLocal(slot, new ReadOnlySpan<byte>(info->Address, 16), (int)info->InterfaceIndex);
            }

            offset += LinuxSocketInterop.CmsgAlign(length);
        }
    }

    /// <summary>
    /// Builds mmsghdr entries for slots [start, start+count). With <paramref name="maxSegments"/> &gt; 1, runs of
    /// consecutive slots with the same destination and source and the same length (the last may be shorter) become
    /// one entry with a UDP_SEGMENT cmsg (udp(7) GSO) whose iovecs point straight at the slots — no copying.
    /// Returns the number of entries; <see cref="EntryEnd"/> maps entries back to slots.
    /// </summary>
    internal int PrepareSend(int start, int count, int socketFamily, int maxSegments, int maxGsoBytes, bool sourceAddresses)
    {
        byte* data = DataPointer;
        int end = start + count;
        for (int i = start; i < end; i++)
        {
            _iov[i].Base = data + ((nint)i * SlotSize);
            _iov[i].Length = (nuint)_lengths[i];
        }

        int entries = 0;
        int slot = start;
        while (slot < end)
        {
            int segment = _lengths[slot];
            int total = segment;
            int run = 1;
            if (maxSegments > 1 && segment > 0)
            {
                while (slot + run < end && run < maxSegments)
                {
                    int next = slot + run;
                    int length = _lengths[next];
                    if (length == 0 || length > segment || total + length > maxGsoBytes || !SameRoute(slot, next))
                    {
                        break;
                    }

                    total += length;
                    run++;
                    if (length < segment)
                    {
                        break; // only the last segment may be shorter
                    }
                }
            }

            ref MsgHdr h = ref _headers[entries].Header;
            byte* name = NamePointer(_sendNames, entries);
            int nameLength = SocketAddressCodec.WriteForFamily(GetRemoteAddress(slot), socketFamily,
                new Span<byte>(name, SocketAddressCodec.MaxLength));
            if (nameLength == 0)
            {
                throw new InvalidOperationException($"Slot {slot} has no destination usable on this socket's address family.");
            }

            h.Name = name;
            h.NameLength = (uint)nameLength;
            h.Iov = IoVecPointer(slot);
            h.IovLength = (nuint)run;
            h.Flags = 0;
            byte* control = ControlPointer(entries);
            int controlLength = 0;
            if (run > 1)
            {
                // udp(7): UDP_SEGMENT cmsg carries a u16 gso_size (the kernel requires CMSG_LEN(sizeof(__u16))).
                CMsgHdr* c = (CMsgHdr*)control;
                c->Length = (nuint)LinuxSocketInterop.CmsgLen(sizeof(ushort));
                c->Level = LinuxSocketInterop.SOL_UDP;
                c->Type = LinuxSocketInterop.UDP_SEGMENT;
                *(ushort*)(c + 1) = (ushort)segment;
                controlLength += LinuxSocketInterop.CmsgSpace(sizeof(ushort));
            }

            if (sourceAddresses && _local[slot].Length != 0)
            {
                controlLength += WriteSourceCmsg(control + controlLength, ref _local[slot], socketFamily);
            }

            h.Control = controlLength == 0 ? null : control;
            h.ControlLength = (nuint)controlLength;
            _headers[entries].Length = 0;
            slot += run;
            _entryEnd[entries] = slot;
            entries++;
        }

        return entries;
    }

    /// <summary>Slot index one past the last slot covered by send entry <paramref name="entry"/>.</summary>
    internal int EntryEnd(int entry) => _entryEnd[entry];

    private static int WriteSourceCmsg(byte* control, ref LocalAddress local, int socketFamily)
    {
        CMsgHdr* c = (CMsgHdr*)control;
        byte* payload = (byte*)(c + 1);
        ReadOnlySpan<byte> address = MemoryMarshal.CreateReadOnlySpan(ref local.Bytes[0], local.Length);
        if (socketFamily == LinuxSocketInterop.AF_INET)
        {
            if (address.Length == 16)
            {
                if (!SocketAddressCodec.IsV4Mapped(address))
                {
                    return 0;
                }

                address = address[12..];
            }

            // ip(7): "If IP_PKTINFO is passed to sendmsg(2) and ipi_spec_dst is not zero, then it is used as the
            // local source address for the routing table lookup"; ipi_ifindex 0 lets routing pick the interface.
            InPktInfo* info = (InPktInfo*)payload;
            *info = default;
            address.CopyTo(new Span<byte>(&info->SpecificDestination, 4));
            c->Length = (nuint)LinuxSocketInterop.CmsgLen(sizeof(InPktInfo));
            c->Level = LinuxSocketInterop.SOL_IP;
            c->Type = LinuxSocketInterop.IP_PKTINFO;
            return LinuxSocketInterop.CmsgSpace(sizeof(InPktInfo));
        }

        // ipv6(7)/RFC 3542 §6.2: IPV6_PKTINFO on send selects the source address. For an IPv4-mapped destination on
        // a dual-mode socket the kernel's ip_cmsg_send() accepts IPV6_PKTINFO with a v4-mapped source address.
        In6PktInfo* info6 = (In6PktInfo*)payload;
        *info6 = default;
        Span<byte> target = new(info6->Address, 16);
        if (address.Length == 4)
        {
            target[10] = 0xFF;
            target[11] = 0xFF;
            address.CopyTo(target[12..]);
        }
        else
        {
            address.CopyTo(target);
            // RFC 4291 §2.5.6: a link-local source needs its interface; otherwise let routing choose (0).
            if (target[0] == 0xFE && (target[1] & 0xC0) == 0x80)
            {
                info6->InterfaceIndex = (uint)local.InterfaceIndex;
            }
        }

        c->Length = (nuint)LinuxSocketInterop.CmsgLen(sizeof(In6PktInfo));
        c->Level = LinuxSocketInterop.SOL_IPV6;
        c->Type = LinuxSocketInterop.IPV6_PKTINFO;
        return LinuxSocketInterop.CmsgSpace(sizeof(In6PktInfo));
    }

    private bool SameRoute(int a, int b)
    {
        if (!SocketAddressCodec.AddressEquals(GetRemoteAddress(a), GetRemoteAddress(b)))
        {
            return false;
        }

        ref LocalAddress la = ref _local[a];
        ref LocalAddress lb = ref _local[b];
        return la.Length == lb.Length && la.InterfaceIndex == lb.InterfaceIndex
            && MemoryMarshal.CreateReadOnlySpan(ref la.Bytes[0], la.Length)
                .SequenceEqual(MemoryMarshal.CreateReadOnlySpan(ref lb.Bytes[0], lb.Length));
    }

    private int SlotOffset(int slot) => CheckSlot(slot) * SlotSize;

    private int CheckSlot(int slot)
    {
        if ((uint)slot >= (uint)Capacity)
        {
            ThrowSlot(slot);
        }

        return slot;
    }

    private static void ThrowSlot(int slot) => throw new ArgumentOutOfRangeException(nameof(slot), slot, "Slot out of range.");

    [InlineArray(16)]
    internal struct Address16
    {
        private byte _element0;
    }

    internal struct LocalAddress
    {
        public Address16 Bytes;
        public byte Length;
        public int InterfaceIndex;
    }
}
