using AspNetQuicSteer.Quic.Recovery;
using AspNetQuicSteer.Quic.Recovery.Congestion;
using static AspNetQuicSteer.Quic.Tests.Recovery.CongestionTestKit;

namespace AspNetQuicSteer.Quic.Tests.Recovery;

public sealed class PacerTests
{
    private const int Mss = 1200;

    /// <summary>Sends <paramref name="packets"/> datagrams as early as the pacer allows; returns each send time.</summary>
    private static TimeSpan[] SendPaced(Pacer pacer, TimeSpan start, int packets, long cwnd, TimeSpan srtt)
    {
        var times = new TimeSpan[packets];
        TimeSpan now = start;
        for (int i = 0; i < packets; i++)
        {
            now = pacer.NextSendTime(now, Mss, cwnd, srtt);
            Assert.Equal(now, pacer.NextSendTime(now, Mss, cwnd, srtt));
            pacer.OnPacketSent(Mss);
            times[i] = now;
        }

        return times;
    }

    // RFC 9002 §7.7: a burst of up to the initial window leaves at once; then packets follow at
    // N * cwnd / smoothed_rtt with N = 1.25: 1.25 * 120000 B / 100 ms = 1.5 MB/s, one 1200-byte datagram per 0.8 ms.
    [Fact]
    public void AllowsTheBurstThenPacesAtFiveQuartersOfTheWindowPerRtt()
    {
        var pacer = new Pacer(Ms(0), Mss, CongestionWindows.InitialWindow(Mss));
        TimeSpan[] times = SendPaced(pacer, Ms(0), 100, 120_000, Ms(100));

        for (int i = 0; i < 10; i++) Assert.Equal(Ms(0), times[i]);
        for (int i = 10; i < 100; i++) Assert.Equal(Ms(0.8 * (i - 9)), times[i]);
    }

    // RFC 9002 §7.7: a whole window is spread over about smoothed_rtt / 1.25 (80 ms of a 100 ms RTT): here the
    // window beyond the 10-datagram burst, 90% of it, takes 72 ms.
    [Theory]
    [InlineData(100, 120_000)]
    [InlineData(40, 600_000)]
    [InlineData(250, 36_000)]
    public void SpreadsAWindowOverRttDividedByFiveQuarters(int rttMs, long cwnd)
    {
        var pacer = new Pacer(Ms(0), Mss, CongestionWindows.InitialWindow(Mss));
        int packets = (int)(cwnd / Mss);
        TimeSpan[] times = SendPaced(pacer, Ms(0), packets, cwnd, Ms(rttMs));

        double burst = CongestionWindows.InitialWindow(Mss);
        double expectedMs = rttMs / 1.25 * (cwnd - burst) / cwnd;
        Assert.InRange(times[^1].TotalMilliseconds, expectedMs - 0.01, expectedMs + 0.01);
    }

    // RFC 9002 §7.7: after an idle period the bucket holds at most the burst allowance.
    [Fact]
    public void IdleRefillIsCappedAtTheBurst()
    {
        var pacer = new Pacer(Ms(0), Mss, CongestionWindows.InitialWindow(Mss));
        SendPaced(pacer, Ms(0), 30, 120_000, Ms(100));
        TimeSpan[] times = SendPaced(pacer, Seconds(10), 12, 120_000, Ms(100));
        for (int i = 0; i < 10; i++) Assert.Equal(Seconds(10), times[i]);
        Assert.Equal(Seconds(10) + Ms(0.8), times[10]);
    }

    // RFC 9002 §7.7: the burst never exceeds the congestion window (2 datagrams at the minimum window).
    [Fact]
    public void BurstIsBoundedByTheWindow()
    {
        var pacer = new Pacer(Ms(0), Mss, CongestionWindows.InitialWindow(Mss));
        Assert.Equal(2 * Mss, pacer.Capacity(2 * Mss));
        TimeSpan[] times = SendPaced(pacer, Ms(0), 3, 2 * Mss, Ms(100));
        Assert.Equal(Ms(0), times[1]);

        // 1200 bytes at 1.25 * 2400 B / 100 ms = 30 kB/s: 40 ms.
        Assert.Equal(Ms(40), times[2]);
    }

    // RFC 9002 §7.7 ("a sender with knowledge that the path can absorb larger bursts MAY use a higher limit"): at a high
    // measured rate the bucket holds 2 ms of it (so an I/O loop's wake-up rate does not cap throughput), at most 128
    // datagrams and never more than the window; at a low rate the initial window stays the limit.
    [Fact]
    public void FastPathsGetTwoMillisecondsOfRateAsBurst()
    {
        var pacer = new Pacer(Ms(0), Mss, CongestionWindows.InitialWindow(Mss));

        // 1.25 * 1,000,000 B / 10 ms = 125 kB/ms: 2 ms is 250 kB, above the 128-datagram cap (153,600 B).
        Assert.Equal(128L * Mss, pacer.Capacity(1_000_000, Ms(10)));

        // 1.25 * 96,000 B / 10 ms = 12 kB/ms: 2 ms is 24,000 B (20 datagrams), above the initial window (12,000 B).
        Assert.Equal(24_000, pacer.Capacity(96_000, Ms(10)));

        // 1.25 * 48,000 B / 100 ms = 600 B/ms: 2 ms is 1,200 B; the initial window (12,000 B) stays the limit.
        Assert.Equal(CongestionWindows.InitialWindow(Mss), pacer.Capacity(48_000, Ms(100)));

        // Never more than the window.
        Assert.Equal(20_000, pacer.Capacity(20_000, Ms(0.1)));
    }

    // Polling very often loses no rate to rounding: only whole accrued bytes advance the refill clock.
    [Fact]
    public void FrequentPollingDoesNotSlowThePace()
    {
        var pacer = new Pacer(Ms(0), Mss, CongestionWindows.InitialWindow(Mss));
        SendPaced(pacer, Ms(0), 10, 120_000, Ms(100));
        TimeSpan now = Ms(0);
        while (pacer.NextSendTime(now, Mss, 120_000, Ms(100)) != now) now += TimeSpan.FromTicks(3);
        Assert.InRange(now, Ms(0.8), Ms(0.8) + TimeSpan.FromTicks(10));
    }

    // Without an RTT there is no rate: the packet may leave now.
    [Fact]
    public void ZeroSmoothedRttDoesNotPace()
    {
        var pacer = new Pacer(Ms(0), Mss, CongestionWindows.InitialWindow(Mss));
        TimeSpan[] times = SendPaced(pacer, Ms(5), 50, 12_000, TimeSpan.Zero);
        Assert.All(times, t => Assert.Equal(Ms(5), t));
    }

    // The controllers pace with their own window and the estimator's smoothed RTT (RFC 9002 §7.7), unless disabled.
    [Fact]
    public void ControllersPaceUnlessDisabled()
    {
        RttEstimator rtt = Rtt(Ms(100));
        ICongestionController[] paced = [new NewRenoCongestionController(Ms(0), Mss), new CubicCongestionController(Ms(0), Mss)];
        foreach (ICongestionController cc in paced)
        {
            for (int i = 0; i < 10; i++)
            {
                Assert.Equal(Ms(0), cc.NextSendTime(Ms(0), Mss, rtt));
                cc.OnPacketSent(Ms(0), Mss);
            }

            // 1200 bytes at 1.25 * 12000 B / 100 ms: 8 ms.
            Assert.Equal(Ms(8), cc.NextSendTime(Ms(0), Mss, rtt));
        }

        ICongestionController[] unpaced =
        [
            new NewRenoCongestionController(Ms(0), Mss, new NewRenoCongestionControllerOptions { Pacing = false }),
            new CubicCongestionController(Ms(0), Mss, new CubicCongestionControllerOptions { Pacing = false }),
        ];
        foreach (ICongestionController cc in unpaced)
        {
            for (int i = 0; i < 30; i++)
            {
                Assert.Equal(Ms(0), cc.NextSendTime(Ms(0), Mss, rtt));
                cc.OnPacketSent(Ms(0), Mss);
            }
        }
    }

    // RFC 9002 §7.7: the burst stays at the §7.2 initial window (10 datagrams of 1200) even when a larger initial
    // window is configured; the rest of that window is paced.
    [Fact]
    public void BurstStaysAtTheRfcInitialWindowWhenALargerWindowIsConfigured()
    {
        RttEstimator rtt = Rtt(Ms(100));
        var cc = new CubicCongestionController(Ms(0), Mss, new CubicCongestionControllerOptions { InitialWindowPackets = 40 });
        Assert.Equal(40 * Mss, cc.CongestionWindow);
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(Ms(0), cc.NextSendTime(Ms(0), Mss, rtt));
            cc.OnPacketSent(Ms(0), Mss);
        }

        // 1200 bytes at 1.25 * 48000 B / 100 ms: 2 ms.
        Assert.Equal(Ms(2), cc.NextSendTime(Ms(0), Mss, rtt));
    }
}
