using System.Buffers;
using System.Numerics;

namespace AspNetQuicSteer.Quic.Streams;

/// <summary>
/// Bytes of one stream direction addressed by absolute stream offset, held in a power-of-two ring
/// rented from <see cref="ArrayPool{T}.Shared"/>. The owner tells it which offsets are live
/// ([liveStart, liveEnd)); the ring never holds more than its capacity of live bytes, grows by
/// re-renting when asked, and is returned to the pool whenever it holds nothing live.
/// </summary>
internal sealed class StreamByteRing
{
    private const int MinCapacity = 4096;

    private byte[]? _buffer;
    private int _capacity;

    public int Capacity => _capacity;

    /// <summary>Makes room so that offsets [liveStart, end) fit; bytes in [liveStart, liveEnd) are preserved.</summary>
    public void EnsureCapacity(ulong liveStart, ulong liveEnd, ulong end)
    {
        ulong needed = end - liveStart;
        if (needed <= (ulong)_capacity)
        {
            return;
        }

        int newCapacity = (int)Math.Max(MinCapacity, BitOperations.RoundUpToPowerOf2(needed));
        byte[] newBuffer = ArrayPool<byte>.Shared.Rent(newCapacity);
        if (_buffer is not null)
        {
            byte[] old = _buffer;
            int oldCapacity = _capacity;
            _buffer = newBuffer;
            _capacity = newCapacity;
            ulong offset = liveStart;
            while (offset < liveEnd)
            {
                int oldIndex = (int)(offset & (ulong)(oldCapacity - 1));
                int run = (int)Math.Min(liveEnd - offset, (ulong)(oldCapacity - oldIndex));
                Write(offset, old.AsSpan(oldIndex, run));
                offset += (ulong)run;
            }

            ArrayPool<byte>.Shared.Return(old);
        }
        else
        {
            _buffer = newBuffer;
            _capacity = newCapacity;
        }
    }

    /// <summary>Stores <paramref name="data"/> at <paramref name="offset"/>; the range must fit the capacity.</summary>
    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        byte[] buffer = _buffer!;
        while (!data.IsEmpty)
        {
            int index = (int)(offset & (ulong)(_capacity - 1));
            int run = Math.Min(data.Length, _capacity - index);
            data[..run].CopyTo(buffer.AsSpan(index, run));
            data = data[run..];
            offset += (ulong)run;
        }
    }

    /// <summary>Copies bytes starting at <paramref name="offset"/> into <paramref name="destination"/>.</summary>
    public void Read(ulong offset, Span<byte> destination)
    {
        byte[] buffer = _buffer!;
        while (!destination.IsEmpty)
        {
            int index = (int)(offset & (ulong)(_capacity - 1));
            int run = Math.Min(destination.Length, _capacity - index);
            buffer.AsSpan(index, run).CopyTo(destination);
            destination = destination[run..];
            offset += (ulong)run;
        }
    }

    /// <summary>The longest contiguous stored run starting at <paramref name="offset"/>, at most <paramref name="maxLength"/> bytes.</summary>
    public ReadOnlySpan<byte> GetContiguous(ulong offset, int maxLength)
    {
        int index = (int)(offset & (ulong)(_capacity - 1));
        return _buffer.AsSpan(index, Math.Min(maxLength, _capacity - index));
    }

    /// <summary>Returns the storage to the pool; the next write re-rents it.</summary>
    public void Release()
    {
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
            _capacity = 0;
        }
    }
}
