using System.Buffers;
using AspNetQuicSteer.Client.Http3;
using CsCheck;

namespace AspNetQuicSteer.Client.Tests.Http3;

/// <summary>Collects decoded field lines as byte arrays.</summary>
internal sealed class FieldCollector : IQpackFieldHandler
{
    public List<(byte[] Name, byte[] Value)> Fields { get; } = [];

    public void OnField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) => Fields.Add((name.ToArray(), value.ToArray()));

    public static List<(byte[] Name, byte[] Value)> Decode(ReadOnlySpan<byte> section, int maxFieldSectionSize = int.MaxValue)
    {
        var collector = new FieldCollector();
        QpackDecoder.Decode(section, collector, maxFieldSectionSize);
        return collector.Fields;
    }
}

/// <summary>Discards field lines: the fuzz tests only care whether decoding throws.</summary>
internal sealed class NullFieldHandler : IQpackFieldHandler
{
    public static readonly NullFieldHandler Instance = new();

    public void OnField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
    }
}

/// <summary>A <see cref="ReadOnlySequence{T}"/> split into segments at given offsets.</summary>
internal sealed class TestSegment : ReadOnlySequenceSegment<byte>
{
    private TestSegment(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    public static ReadOnlySequence<byte> Split(byte[] bytes, params int[] cuts)
    {
        var first = new TestSegment(bytes.AsMemory(0, cuts.Length > 0 ? cuts[0] : bytes.Length), 0);
        TestSegment last = first;
        for (int i = 0; i < cuts.Length; i++)
        {
            int end = i + 1 < cuts.Length ? cuts[i + 1] : bytes.Length;
            var next = new TestSegment(bytes.AsMemory(cuts[i], end - cuts[i]), cuts[i]);
            last.Next = next;
            last = next;
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }
}

/// <summary>
/// Fuzz inputs made from valid encodings: each sample applies one to six random edits (bit flip, truncation,
/// insertion, deletion, overwrite with a boundary byte) to one of the seeds.
/// </summary>
internal static class Mutations
{
    private static readonly byte[] BoundaryBytes = [0x00, 0xff, 0x3f, 0x40, 0x7f, 0x80, 0xbf, 0xc0, 0x1f, 0x20, 0x0f, 0x07];

    public static Gen<byte[]> Of(params byte[][] seeds)
        => Gen.Select(Gen.Int[0, seeds.Length - 1], Gen.UInt.Array[1, 6], (index, edits) => Apply(seeds[index], edits));

    private static byte[] Apply(byte[] seed, uint[] edits)
    {
        var bytes = new List<byte>(seed);
        foreach (uint edit in edits)
        {
            int position = (int)((edit >> 3) % (uint)(bytes.Count + 1));
            switch (edit % 5)
            {
                case 0 when bytes.Count > 0:
                    bytes[position % bytes.Count] ^= (byte)(1 << (int)((edit >> 27) & 7));
                    break;
                case 1:
                    bytes.RemoveRange(position, bytes.Count - position);
                    break;
                case 2:
                    bytes.Insert(position, (byte)(edit >> 24));
                    break;
                case 3 when bytes.Count > 0:
                    bytes.RemoveAt(position % bytes.Count);
                    break;
                case 4 when bytes.Count > 0:
                    bytes[position % bytes.Count] = BoundaryBytes[(edit >> 24) % BoundaryBytes.Length];
                    break;
            }
        }

        return [.. bytes];
    }
}
