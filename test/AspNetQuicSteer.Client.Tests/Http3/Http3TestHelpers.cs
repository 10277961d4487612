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
