using AspNetQuicSteer.Quic.Connection;
using CsCheck;

namespace AspNetQuicSteer.Quic.Tests.Connection;

public sealed class RangeSetTests
{
    [Fact]
    public void MergesOverlappingAndAdjacentRanges()
    {
        var set = new RangeSet();
        set.Add(10, 20);
        set.Add(30, 40);
        set.Add(20, 30);
        Assert.Equal(1, set.Count);
        Assert.Equal((10UL, 40UL), set[0]);
    }

    [Fact]
    public void RemoveSplitsARange()
    {
        var set = new RangeSet();
        set.Add(0, 100);
        set.Remove(40, 60);
        Assert.Equal(2, set.Count);
        Assert.Equal((0UL, 40UL), set[0]);
        Assert.Equal((60UL, 100UL), set[1]);
    }

    [Fact]
    public void DropsLowestRangesBeyondTheLimit()
    {
        // RFC 9000 §13.2.4: an ACK sender may forget old ranges; the newest must survive.
        var set = new RangeSet(maxRanges: 3);
        for (ulong pn = 0; pn < 20; pn += 2) set.Add(pn);
        Assert.Equal(3, set.Count);
        Assert.Equal(18UL, set.Max);
        Assert.Equal(14UL, set.Min);
    }

    [Fact]
    public void BehavesLikeASetOfValuesUnderRandomOperations()
    {
        var op = Gen.Select(Gen.Int[0, 3], Gen.UInt[0, 200], Gen.UInt[0, 20]);
        op.Array[1, 60].Sample(ops =>
        {
            var set = new RangeSet();
            var model = new HashSet<ulong>();
            foreach ((int kind, uint start, uint length) in ops)
            {
                ulong s = start, e = start + (ulong)length;
                if (kind < 2)
                {
                    set.Add(s, e);
                    for (ulong v = s; v < e; v++) model.Add(v);
                }
                else if (kind == 2)
                {
                    set.Remove(s, e);
                    for (ulong v = s; v < e; v++) model.Remove(v);
                }
                else
                {
                    set.RemoveBelow(s);
                    model.RemoveWhere(v => v < s);
                }
            }

            for (ulong v = 0; v < 230; v++)
            {
                if (set.Contains(v) != model.Contains(v)) return false;
            }

            for (int i = 1; i < set.Count; i++)
            {
                if (set[i].Start <= set[i - 1].End) return false; // disjoint and non-adjacent
            }

            return true;
        }, iter: 5_000);
    }
}
