namespace AspNetQuicSteer.Quic.Connection;

/// <summary>
/// A set of disjoint, non-adjacent half-open ranges [Start, End) over ulong, kept sorted ascending.
/// Used for received packet numbers (ACK ranges, RFC 9000 §13.2.3) and for stream/CRYPTO reassembly
/// bookkeeping. Storage is a reused array; once warmed up, inserts allocate nothing. When the range
/// count exceeds <see cref="MaxRanges"/>, the lowest ranges are dropped (RFC 9000 §13.2.4 lets an
/// ACK sender limit the ranges it remembers).
/// </summary>
internal sealed class RangeSet
{
    private (ulong Start, ulong End)[] _ranges;
    private int _count;

    public RangeSet(int maxRanges = int.MaxValue, int initialCapacity = 8)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRanges, 1);
        MaxRanges = maxRanges;
        _ranges = new (ulong, ulong)[Math.Min(initialCapacity, maxRanges)];
    }

    public int MaxRanges { get; }

    public int Count => _count;

    public bool IsEmpty => _count == 0;

    public (ulong Start, ulong End) this[int index]
        => (uint)index < (uint)_count ? _ranges[index] : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>Smallest value in the set.</summary>
    public ulong Min => _count > 0 ? _ranges[0].Start : throw new InvalidOperationException("Empty range set.");

    /// <summary>Largest value in the set (inclusive).</summary>
    public ulong Max => _count > 0 ? _ranges[_count - 1].End - 1 : throw new InvalidOperationException("Empty range set.");

    public void Clear() => _count = 0;

    public bool Contains(ulong value)
    {
        int i = FindFirstEndingAfter(value);
        return i < _count && _ranges[i].Start <= value;
    }

    /// <summary>True when [start, end) is entirely in the set.</summary>
    public bool ContainsRange(ulong start, ulong end)
    {
        if (start >= end) return true;
        int i = FindFirstEndingAfter(start);
        return i < _count && _ranges[i].Start <= start && _ranges[i].End >= end;
    }

    public void Add(ulong value) => Add(value, value + 1);

    /// <summary>Adds [start, end), merging with overlapping or adjacent ranges.</summary>
    public void Add(ulong start, ulong end)
    {
        if (start >= end) return;

        // Fast path: appending at or after the end, the common case for packet numbers and in-order data.
        if (_count == 0 || start > _ranges[_count - 1].End)
        {
            Insert(_count, start, end);
            return;
        }

        int first = FindFirstEndingAtOrAfter(start);
        if (first == _count || end < _ranges[first].Start)
        {
            Insert(first, start, end);
            return;
        }

        int last = first;
        while (last + 1 < _count && _ranges[last + 1].Start <= end)
        {
            last++;
        }

        ulong newStart = Math.Min(start, _ranges[first].Start);
        ulong newEnd = Math.Max(end, _ranges[last].End);
        _ranges[first] = (newStart, newEnd);
        int removed = last - first;
        if (removed > 0)
        {
            Array.Copy(_ranges, last + 1, _ranges, first + 1, _count - last - 1);
            _count -= removed;
        }
    }

    /// <summary>Removes every value below <paramref name="value"/>.</summary>
    public void RemoveBelow(ulong value)
    {
        int drop = 0;
        while (drop < _count && _ranges[drop].End <= value) drop++;
        if (drop > 0)
        {
            Array.Copy(_ranges, drop, _ranges, 0, _count - drop);
            _count -= drop;
        }

        if (_count > 0 && _ranges[0].Start < value)
        {
            _ranges[0].Start = value;
        }
    }

    /// <summary>Removes [start, end) from the set.</summary>
    public void Remove(ulong start, ulong end)
    {
        if (start >= end) return;
        int i = FindFirstEndingAfter(start);
        while (i < _count && _ranges[i].Start < end)
        {
            (ulong s, ulong e) = _ranges[i];
            if (s < start && e > end)
            {
                _ranges[i] = (s, start);
                Insert(i + 1, end, e);
                return;
            }

            if (s < start)
            {
                _ranges[i].End = start;
                i++;
            }
            else if (e > end)
            {
                _ranges[i].Start = end;
                return;
            }
            else
            {
                Array.Copy(_ranges, i + 1, _ranges, i, _count - i - 1);
                _count--;
            }
        }
    }

    private void Insert(int index, ulong start, ulong end)
    {
        if (_count == MaxRanges)
        {
            // Forget the lowest range; keep the newest information.
            if (index == 0) return;
            Array.Copy(_ranges, 1, _ranges, 0, index - 1);
            index--;
            _count--;
        }
        else if (_count == _ranges.Length)
        {
            Array.Resize(ref _ranges, (int)Math.Min((long)_ranges.Length * 2, MaxRanges));
        }

        if (index < _count)
        {
            Array.Copy(_ranges, index, _ranges, index + 1, _count - index);
        }

        _ranges[index] = (start, end);
        _count++;
    }

    private int FindFirstEndingAfter(ulong value)
    {
        int lo = 0, hi = _count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_ranges[mid].End <= value) lo = mid + 1; else hi = mid;
        }

        return lo;
    }

    private int FindFirstEndingAtOrAfter(ulong value)
    {
        int lo = 0, hi = _count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_ranges[mid].End < value) lo = mid + 1; else hi = mid;
        }

        return lo;
    }
}
