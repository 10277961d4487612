using AspNetQuicSteer.Quic.Frames;
using AspNetQuicSteer.Quic.Wire;
using CsCheck;

namespace AspNetQuicSteer.Quic.Tests.Frames;

public sealed class AckFrameTests
{
    [Fact]
    public void EnumeratesEncodedRangesLargestFirst()
    {
        // RFC 9000 §19.3.1: largest 10, first range 2 → [8,10]; gap 0, length 1 → [5,6]; gap 1, length 0 → [2,2].
        var reader = new QuicReader(Convert.FromHexString("0a0302020001" + "0100"));
        AckFrame frame = AckFrame.Parse(ref reader, (ulong)FrameType.Ack);
        var ranges = new List<AckRange>();
        foreach (AckRange range in frame.GetRanges())
        {
            ranges.Add(range);
        }

        Assert.Equal([new AckRange(8, 10), new AckRange(5, 6), new AckRange(2, 2)], ranges);
        Assert.Equal(3UL, frame.AckDelay);
        Assert.Null(frame.Ecn);
    }

    [Fact]
    public void WriterEncodesGapsAndLengthsFromDescendingRanges()
    {
        AckRange[] ranges = [new(8, 10), new(5, 6), new(2, 2)];
        var frame = new AckFrame(ranges, ackDelay: 3, new EcnCounts(1, 2, 3));
        var buffer = new byte[frame.GetLength()];
        var writer = new QuicWriter(buffer);
        frame.Write(ref writer);
        Assert.Equal("030a0302020001" + "0100" + "010203", Convert.ToHexStringLower(buffer));
    }

    [Fact]
    public void AckDelayIsRawAndScaledByTheCallersExponent()
    {
        // RFC 9000 §19.3: ack delay × 2^ack_delay_exponent microseconds; hostile values saturate.
        var reader = new QuicReader(Convert.FromHexString("0a" + "4400" + "0000"));
        AckFrame frame = AckFrame.Parse(ref reader, (ulong)FrameType.Ack);
        Assert.Equal(1024UL, frame.AckDelay);
        Assert.Equal(8192UL, frame.GetAckDelay(3));
        var hostile = new QuicReader(Convert.FromHexString("0a" + "ffffffffffffffff" + "0000"));
        Assert.Equal(ulong.MaxValue, AckFrame.Parse(ref hostile, (ulong)FrameType.Ack).GetAckDelay(20));
    }

    [Fact]
    public void WriterRejectsRangesThatAreNotDescendingWithGaps()
    {
        Assert.Throws<ArgumentException>(() => new AckFrame([new(5, 6), new(7, 9)], 0));
        Assert.Throws<ArgumentException>(() => new AckFrame([new(5, 6), new(3, 4)], 0)); // adjacent: no gap
        Assert.Throws<ArgumentException>(() => new AckFrame([], 0));
    }

    [Fact]
    public void RangeCountThatFitsRespectsTheSpace()
    {
        AckRange[] ranges = [new(100, 110), new(80, 90), new(60, 70), new(40, 50)];
        int full = new AckFrame(ranges, 0).GetLength();
        Assert.Equal(4, AckFrame.GetRangeCountThatFits(ranges, 0, null, full));
        Assert.Equal(3, AckFrame.GetRangeCountThatFits(ranges, 0, null, full - 1));
        Assert.Equal(0, AckFrame.GetRangeCountThatFits(ranges, 0, null, 3));
    }

    // parse(write(x)) == x for generated descending range sets.
    [Fact]
    public void GeneratedRangeSetsRoundTrip()
    {
        Gen.Select(Gen.ULong[0, 1UL << 40], Gen.ULong[0, 1000].Array[1, 30], Gen.Bool).Sample((start, steps, withEcn) =>
        {
            var ranges = new List<AckRange>();
            ulong next = start;
            for (int i = 0; i + 1 < steps.Length; i += 2)
            {
                ulong smallest = next;
                ulong largest = smallest + steps[i];
                ranges.Add(new AckRange(smallest, largest));
                next = largest + 2 + steps[i + 1];
            }

            if (ranges.Count == 0)
            {
                ranges.Add(new AckRange(start, start));
            }

            ranges.Reverse();
            AckRange[] descending = [.. ranges];
            var frame = new AckFrame(descending, 77, withEcn ? new EcnCounts(1, 2, 3) : null);
            var buffer = new byte[frame.GetLength()];
            var writer = new QuicWriter(buffer);
            frame.Write(ref writer);

            var reader = new QuicReader(buffer);
            ulong type = FrameReader.ReadFrameType(ref reader);
            AckFrame parsed = AckFrame.Parse(ref reader, type);
            var decoded = new List<AckRange>();
            foreach (AckRange range in parsed.GetRanges())
            {
                decoded.Add(range);
            }

            return reader.IsEmpty && decoded.SequenceEqual(descending) && parsed.AckDelay == 77 && parsed.Ecn == frame.Ecn;
        }, iter: 100_000);
    }
}
