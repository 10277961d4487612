using AspNetQuicSteer.Quic.Recovery;
using AspNetQuicSteer.Quic.Recovery.Congestion;
using CsCheck;
using static AspNetQuicSteer.Quic.Tests.Recovery.CongestionTestKit;

namespace AspNetQuicSteer.Quic.Tests.Recovery;

public sealed class CongestionControllerPropertyTests
{
    private static ICongestionController Create(bool cubic, TimeSpan now, int maxDatagramSize)
        => cubic
            ? new CubicCongestionControllerFactory().Create(now, maxDatagramSize)
            : new NewRenoCongestionControllerFactory().Create(now, maxDatagramSize);

    /// <summary>
    /// Runs a random but consistent connection history (only packets that were sent get acknowledged, lost or
    /// discarded) and checks the invariants after every event: the window never drops below the minimum (RFC 9002
    /// §7.2) nor overflows, bytes_in_flight equals the model's and is never negative (§B.2), the available window is
    /// cwnd - bytes_in_flight floored at 0, and the pacer never answers a time before now (§7.7).
    /// </summary>
    private static void Run(bool cubic, (int Kind, int A, int B)[] events)
    {
        int maxDatagramSize = 1200;
        TimeSpan now = Seconds(1);
        var rtt = new RttEstimator();
        ICongestionController cc = Create(cubic, now, maxDatagramSize);
        var outstanding = new List<(TimeSpan Sent, int Size)>();

        foreach ((int kind, int a, int b) in events)
        {
            switch (kind)
            {
                case 0:
                case 1:
                case 2:
                {
                    int size = 1 + (a % maxDatagramSize);

                    // Mostly respect the window, as the connection will; sometimes overshoot it anyway.
                    if (b % 8 != 0 && cc.AvailableWindow < size) break;
                    cc.OnPacketSent(now, size);
                    outstanding.Add((now, size));
                    break;
                }

                case 3:
                case 4:
                {
                    if (outstanding.Count == 0) break;
                    int index = a % outstanding.Count;
                    (TimeSpan sent, int size) = outstanding[index];
                    outstanding.RemoveAt(index);
                    rtt.Update(now - sent, TimeSpan.Zero);
                    cc.OnPacketAcknowledged(now, sent, size, rtt);
                    break;
                }

                case 5:
                {
                    if (outstanding.Count == 0) break;
                    int count = 1 + (a % Math.Min(outstanding.Count, 6));
                    int lostBytes = 0;
                    TimeSpan newest = TimeSpan.Zero;
                    for (int i = 0; i < count; i++)
                    {
                        lostBytes += outstanding[i].Size;
                        if (outstanding[i].Sent > newest) newest = outstanding[i].Sent;
                    }

                    outstanding.RemoveRange(0, count);
                    cc.OnPacketsLost(now, lostBytes, newest, persistentCongestion: b % 4 == 0);
                    break;
                }

                case 6:
                    now += TimeSpan.FromTicks(a % 5_000_000);
                    break;

                case 7:
                    cc.IsApplicationLimited = a % 2 == 0;
                    break;

                case 8:
                    cc.OnCongestionExperienced(now, outstanding.Count == 0 ? now : outstanding[a % outstanding.Count].Sent);
                    break;

                case 9:
                {
                    int count = a % (outstanding.Count + 1);
                    int bytes = 0;
                    for (int i = outstanding.Count - count; i < outstanding.Count; i++) bytes += outstanding[i].Size;
                    outstanding.RemoveRange(outstanding.Count - count, count);
                    cc.OnPacketsDiscarded(bytes);
                    break;
                }

                case 10:
                    maxDatagramSize = CongestionWindows.MinimumMaxDatagramSize
                        + (a % (CongestionWindows.MaximumMaxDatagramSize - CongestionWindows.MinimumMaxDatagramSize + 1));
                    cc.OnMaxDatagramSizeChanged(maxDatagramSize);
                    break;

                default:
                {
                    TimeSpan next = cc.NextSendTime(now, 1 + (a % maxDatagramSize), rtt);
                    Assert.True(next >= now);
                    if (b % 2 == 0) now = next;
                    break;
                }
            }

            long inFlight = 0;
            foreach ((TimeSpan _, int size) in outstanding) inFlight += size;
            Assert.True(cc.CongestionWindow >= 2L * maxDatagramSize, $"window {cc.CongestionWindow} below minimum");
            Assert.True(cc.CongestionWindow <= CongestionWindows.MaximumWindow);
            Assert.Equal(inFlight, cc.BytesInFlight);
            Assert.True(cc.BytesInFlight >= 0);
            Assert.Equal(Math.Max(0, cc.CongestionWindow - cc.BytesInFlight), cc.AvailableWindow);
        }
    }

    private static readonly Gen<(int, int, int)[]> Histories =
        Gen.Select(Gen.Int[0, 11], Gen.Int[0, int.MaxValue], Gen.Int[0, int.MaxValue]).Array[1, 400];

    // RFC 9002 §7.2, §B.2, §7.7 invariants under random histories (NewReno).
    [Fact]
    public void NewRenoInvariantsHoldForRandomHistories()
        => Histories.Sample(events => Run(cubic: false, events), iter: 400);

    // RFC 9002 §7.2, §B.2, §7.7 invariants under random histories (CUBIC, RFC 9438).
    [Fact]
    public void CubicInvariantsHoldForRandomHistories()
        => Histories.Sample(events => Run(cubic: true, events), iter: 400);

    // Overflow guard: acknowledging enormous amounts saturates the window at MaximumWindow instead of wrapping.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WindowSaturatesInsteadOfOverflowing(bool cubic)
    {
        ICongestionController cc = Create(cubic, Ms(0), 1200);
        RttEstimator rtt = Rtt(Ms(10));
        for (int i = 0; i < 140_000; i++)
        {
            cc.OnPacketSent(Ms(1), int.MaxValue);
            cc.OnPacketAcknowledged(Ms(2), Ms(1), int.MaxValue, rtt);
        }

        Assert.Equal(CongestionWindows.MaximumWindow, cc.CongestionWindow);
        Assert.Equal(0, cc.BytesInFlight);

        // A congestion event from there and congestion avoidance far into the future stay in range.
        cc.OnPacketSent(Ms(3), 1200);
        cc.OnPacketsLost(Ms(4), 1200, Ms(3), persistentCongestion: false);
        for (int i = 0; i < 1000; i++)
        {
            cc.OnPacketSent(Ms(5), int.MaxValue);
            cc.OnPacketAcknowledged(TimeSpan.FromDays(i), Ms(5), int.MaxValue, rtt);
        }

        Assert.InRange(cc.CongestionWindow, 2400, CongestionWindows.MaximumWindow);
        Assert.True(cc.NextSendTime(TimeSpan.FromDays(1000), 1200, rtt) >= TimeSpan.FromDays(1000));
    }

    // Per-packet calls allocate nothing.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PerPacketCallsDoNotAllocate(bool cubic)
    {
        ICongestionController cc = Create(cubic, Ms(0), 1200);
        RttEstimator rtt = Rtt(Ms(20));
        Exercise(cc, rtt, 0);

        long before = GC.GetAllocatedBytesForCurrentThread();
        Exercise(cc, rtt, 1);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);

        static void Exercise(ICongestionController cc, RttEstimator rtt, int round)
        {
            TimeSpan now = Seconds(round * 100);
            for (int i = 0; i < 2000; i++)
            {
                now = cc.NextSendTime(now, 1200, rtt);
                cc.OnPacketSent(now, 1200);
                cc.OnPacketAcknowledged(now + Ms(20), now, 1200, rtt);
                if (i % 100 == 99)
                {
                    cc.OnPacketSent(now, 1200);
                    cc.OnPacketsLost(now + Ms(30), 1200, now, persistentCongestion: false);
                    cc.OnCongestionExperienced(now + Ms(31), now);
                    cc.OnPacketsDiscarded(0);
                }
            }
        }
    }
}
