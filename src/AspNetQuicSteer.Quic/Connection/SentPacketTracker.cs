namespace AspNetQuicSteer.Quic.Connection;

/// <summary>
/// Sent-but-unresolved packets of one packet number space, in packet number order, with the frames each carried.
/// Packets leave when acknowledged, declared lost or discarded; since that mostly happens oldest-first, storage is
/// two growable rings (packets, frames) compacted from the front. No allocation in steady state.
/// </summary>
internal sealed class SentPacketTracker : ISentFrameSink
{
    private SentPacket[] _packets = new SentPacket[64];
    private int _head;
    private int _count;
    private int _live;

    private SentFrame[] _frames = new SentFrame[256];
    private long _frameHead;
    private long _frameTail;

    private bool _building;
    private long _buildingFrameStart;

    /// <summary>Packets still tracked (neither acknowledged, lost nor discarded).</summary>
    public int Count => _live;

    public int AckElicitingInFlight { get; private set; }

    public long BytesInFlight { get; private set; }

    /// <summary>Starts recording frames for the next packet; frames go through <see cref="Record"/>.</summary>
    public void BeginPacket()
    {
        _building = true;
        _buildingFrameStart = _frameTail;
    }

    /// <summary>Frames recorded since <see cref="BeginPacket"/>.</summary>
    public int PendingFrameCount => _building ? (int)(_frameTail - _buildingFrameStart) : 0;

    public void Record(in SentFrame frame)
    {
        if (!_building) throw new InvalidOperationException("Record outside of BeginPacket/CommitPacket.");
        if (_frameTail - _frameHead == _frames.Length) GrowFrames();
        _frames[_frameTail % _frames.Length] = frame;
        _frameTail++;
    }

    /// <summary>Abandons the frames recorded for a packet that was not sent.</summary>
    public void AbortPacket()
    {
        _frameTail = _buildingFrameStart;
        _building = false;
    }

    /// <summary>Stores the packet with the frames recorded since <see cref="BeginPacket"/>.</summary>
    public void CommitPacket(SentPacket packet)
    {
        _building = false;
        if (!packet.InFlight && _frameTail == _buildingFrameStart)
        {
            return; // An ACK-only packet needs no tracking beyond its largest acknowledged (RFC 9002 §A.1).
        }

        packet.FrameStart = _buildingFrameStart;
        packet.FrameCount = (int)(_frameTail - _buildingFrameStart);
        Compact();
        if (_count == _packets.Length) GrowPackets();
        _packets[(_head + _count) % _packets.Length] = packet;
        _count++;
        _live++;
        if (packet.AckEliciting) AckElicitingInFlight++;
        if (packet.InFlight) BytesInFlight += packet.Size;
    }

    /// <summary>The frames a tracked packet carried.</summary>
    public FrameEnumerator GetFrames(in SentPacket packet) => new(this, packet.FrameStart, packet.FrameCount);

    /// <summary>Index-based access in packet number order, for ACK and loss scans; skip entries with Removed set.</summary>
    public int SlotCount => _count;

    public ref SentPacket Slot(int index) => ref _packets[(_head + index) % _packets.Length];

    /// <summary>First slot whose packet number is at least <paramref name="packetNumber"/>.</summary>
    public int LowerBound(ulong packetNumber)
    {
        int lo = 0, hi = _count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (Slot(mid).PacketNumber < packetNumber) lo = mid + 1; else hi = mid;
        }

        return lo;
    }

    /// <summary>
    /// Marks a packet resolved (acked, lost or discarded). Slot indices stay stable so callers can keep scanning by
    /// index; call <see cref="Compact"/> once the scan is over to release resolved packets at the front.
    /// </summary>
    public void Remove(int slot)
    {
        ref SentPacket packet = ref Slot(slot);
        if (packet.Removed) return;
        packet.Removed = true;
        _live--;
        if (packet.AckEliciting) AckElicitingInFlight--;
        if (packet.InFlight) BytesInFlight -= packet.Size;
    }

    /// <summary>Drops resolved packets (and their frames) from the front. Shifts slot indices.</summary>
    public void Compact()
    {
        while (_count > 0 && Slot(0).Removed)
        {
            _head = (_head + 1) % _packets.Length;
            _count--;
            _frameHead = _count > 0 ? Slot(0).FrameStart : _frameTail;
        }
    }

    /// <summary>Forgets everything (keys discarded, RFC 9002 §6.4); returns the in-flight bytes that were dropped.</summary>
    public long Clear()
    {
        long bytes = BytesInFlight;
        _head = _count = _live = 0;
        _frameHead = _frameTail;
        AckElicitingInFlight = 0;
        BytesInFlight = 0;
        return bytes;
    }

    private void GrowPackets()
    {
        var grown = new SentPacket[_packets.Length * 2];
        for (int i = 0; i < _count; i++) grown[i] = Slot(i);
        _packets = grown;
        _head = 0;
    }

    private void GrowFrames()
    {
        var grown = new SentFrame[_frames.Length * 2];
        for (long i = _frameHead; i < _frameTail; i++) grown[i % grown.Length] = _frames[i % _frames.Length];
        _frames = grown;
    }

    internal ref struct FrameEnumerator
    {
        private readonly SentPacketTracker _tracker;
        private readonly long _end;
        private long _index;

        public FrameEnumerator(SentPacketTracker tracker, long start, int count)
        {
            _tracker = tracker;
            _index = start - 1;
            _end = start + count;
        }

        public readonly ref SentFrame Current => ref _tracker._frames[_index % _tracker._frames.Length];

        public bool MoveNext() => ++_index < _end;

        public readonly FrameEnumerator GetEnumerator() => this;
    }
}
