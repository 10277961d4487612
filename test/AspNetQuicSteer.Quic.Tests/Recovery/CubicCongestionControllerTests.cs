using AspNetQuicSteer.Quic.Recovery;
using AspNetQuicSteer.Quic.Recovery.Congestion;
using static AspNetQuicSteer.Quic.Tests.Recovery.CongestionTestKit;

namespace AspNetQuicSteer.Quic.Tests.Recovery;

public sealed class CubicCongestionControllerTests
{
    private const int Mss = 1200;

    // RFC 9438 §5.1 constants, restated here so the expectations below do not lean on the implementation's.
    private const double RfcC = 0.4;
    private const double RfcBeta = 0.7;
    private const double RfcAlpha = 3 * (1 - RfcBeta) / (1 + RfcBeta);

    private static readonly RttEstimator Rtt100 = Rtt(Ms(100));

    /// <summary>
    /// Slow start to 100 segments, then one loss (sent 150 ms, declared 300 ms): the recovery period starts at 300 ms,
    /// W_max = cwnd_prior = 100 segments and cwnd = ssthresh = 70 segments.
    /// </summary>
    private static CubicCongestionController AfterLoss(CubicCongestionControllerOptions? options = null)
    {
        var cc = new CubicCongestionController(Ms(0), Mss, options ?? new CubicCongestionControllerOptions());
        GrowTo(cc, 100 * Mss, Ms(0), Ms(100), Mss, Rtt100);
        cc.OnPacketSent(Ms(150), Mss);
        cc.OnPacketsLost(Ms(300), Mss, Ms(150), persistentCongestion: false);
        return cc;
    }

    /// <summary>RFC 9438 §4.2 Figure 1, in segments: W_cubic(t) = C * (t - K)³ + W_max.</summary>
    private static double RfcWCubicSegments(double t, double k, double wMaxSegments) => (RfcC * Math.Pow(t - k, 3)) + wMaxSegments;

    // RFC 9438 §4.10: slow start grows by the acknowledged bytes, like RFC 9002 §7.3.1.
    [Fact]
    public void SlowStartGrowsByAcknowledgedBytes()
    {
        var cc = new CubicCongestionController(Ms(0), Mss);
        SendAndAcknowledge(cc, Ms(0), Ms(100), 3, Mss, Rtt100);
        Assert.Equal(12000 + (3 * Mss), cc.CongestionWindow);
        Assert.True(cc.InSlowStart);
    }

    // RFC 9438 §4.6: multiplicative decrease, ssthresh = cwnd = cwnd * beta_cubic (0.7); cwnd_prior and W_max (§4.7)
    // remember the window before the reduction.
    [Fact]
    public void CongestionEventReducesByBetaCubic()
    {
        var cc = AfterLoss();
        Assert.Equal(70 * Mss, cc.CongestionWindow);
        Assert.Equal(70 * Mss, cc.SlowStartThreshold);
        Assert.Equal(100.0 * Mss, cc.WMax);
        Assert.Equal(100.0 * Mss, cc.CwndPrior);
        Assert.False(cc.InSlowStart);
        Assert.False(cc.EpochActive);
    }

    // RFC 9438 §4.6 with RFC 9002 §7.2: the reduced window never drops below 2 * max_datagram_size.
    [Fact]
    public void ReductionStopsAtTheMinimumWindow()
    {
        var cc = new CubicCongestionController(Ms(0), Mss);
        for (int i = 0; i < 30; i++)
        {
            cc.OnPacketSent(Ms(i * 10), Mss);
            cc.OnPacketsLost(Ms((i * 10) + 5), Mss, Ms(i * 10), persistentCongestion: false);
            Assert.True(cc.CongestionWindow >= 2 * Mss);
        }

        Assert.Equal(2 * Mss, cc.CongestionWindow);
    }

    // RFC 9002 §7.3.2: one reduction per recovery period applies to CUBIC too.
    [Fact]
    public void OneReductionPerRecoveryPeriod()
    {
        var cc = AfterLoss();
        cc.OnPacketsLost(Ms(350), Mss, Ms(299), persistentCongestion: false);
        cc.OnCongestionExperienced(Ms(360), Ms(300));
        Assert.Equal(70 * Mss, cc.CongestionWindow);

        // RFC 9002 §7.1 / §B.7: ECN-CE for a packet sent after the recovery start reduces again (by beta_cubic).
        cc.OnPacketSent(Ms(301), Mss);
        cc.OnCongestionExperienced(Ms(450), Ms(301));
        Assert.Equal((long)(70 * Mss * 0.7), cc.CongestionWindow);
    }

    // RFC 9438 §4.2 Figure 2: K = cbrt((W_max - cwnd_epoch) / C), computed when congestion avoidance starts.
    [Fact]
    public void KMatchesFigure2()
    {
        var cc = AfterLoss();
        cc.OnPacketSent(Ms(301), Mss);
        cc.OnPacketAcknowledged(Ms(400), Ms(301), Mss, Rtt100);
        Assert.True(cc.EpochActive);
        Assert.Equal(Ms(400), cc.EpochStart);

        double expectedK = Math.Cbrt((100.0 - 70.0) / RfcC);
        Assert.Equal(expectedK, cc.K, 9);
        Assert.Equal(4.21716333, cc.K, 8);
    }

    // RFC 9438 §4.2 Figure 1: W_cubic(0) = cwnd_epoch, W_cubic(K) = W_max, and the cubic shape around K.
    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(3.0)]
    [InlineData(4.2171633265)]
    [InlineData(5.0)]
    [InlineData(10.0)]
    public void WCubicMatchesFigure1(double t)
    {
        var cc = AfterLoss();
        cc.OnPacketSent(Ms(301), Mss);
        cc.OnPacketAcknowledged(Ms(400), Ms(301), Mss, Rtt100);

        double k = Math.Cbrt((100.0 - 70.0) / RfcC);
        double expectedBytes = RfcWCubicSegments(t, k, 100) * Mss;
        Assert.Equal(expectedBytes, cc.WCubic(t), 6);
        if (t == 0) Assert.Equal(70.0 * Mss, cc.WCubic(t), 6);
    }

    // RFC 9438 §4.2, §4.4, §4.5: an acknowledgment at time t of the stage grows cwnd by (target - cwnd) / cwnd per
    // segment, target = W_cubic(t + RTT) (RTT = smoothed RTT) clamped to [cwnd, 1.5 * cwnd]. t = 0.5, 2 s: concave;
    // t = K: plateau; t = 6 s: convex; t = 60 s: capped at 1.5 * cwnd.
    [Theory]
    [InlineData(0.5)]
    [InlineData(2.0)]
    [InlineData(4.2171633265)]
    [InlineData(6.0)]
    [InlineData(60.0)]
    public void AcknowledgmentGrowsTowardWCubicOneRttAhead(double t)
    {
        var cc = AfterLoss();
        cc.OnPacketSent(Ms(301), Mss);
        cc.OnPacketSent(Ms(302), Mss);

        // First acknowledgment at 400 ms starts the stage (t = 0). There, W_cubic(0) = cwnd_epoch < W_est, so the
        // Reno-friendly rule (§4.3) applies: cwnd = W_est = cwnd_epoch + alpha_cubic * MSS * MSS / cwnd.
        cc.OnPacketAcknowledged(Ms(400), Ms(301), Mss, Rtt100);
        double wEst = (70.0 * Mss) + (RfcAlpha * Mss * Mss / (70.0 * Mss));
        long cwnd1 = (long)Math.Floor(wEst);
        Assert.Equal(cwnd1, cc.CongestionWindow);
        Assert.Equal(wEst, cc.WEst, 6);

        // Second acknowledgment at 400 ms + t.
        cc.OnPacketAcknowledged(Ms(400) + Seconds(t), Ms(302), Mss, Rtt100);
        double k = Math.Cbrt((100.0 - 70.0) / RfcC);
        wEst += RfcAlpha * Mss * Mss / cwnd1;
        Assert.True(RfcWCubicSegments(t, k, 100) * Mss >= wEst, "cubic region expected");
        double target = Math.Clamp(RfcWCubicSegments(t + 0.1, k, 100) * Mss, cwnd1, 1.5 * cwnd1);
        double expected = cwnd1 + ((target - cwnd1) * Mss / cwnd1);
        Assert.InRange(cc.CongestionWindow, (long)expected - 1, (long)expected + 1);
        if (t == 60.0) Assert.Equal(cwnd1 + (Mss / 2), cc.CongestionWindow);
    }

    // RFC 9438 §4.3: while W_cubic(t) < W_est the window follows W_est, which grows by alpha_cubic segments per window
    // acknowledged and by one segment per window once W_est reaches cwnd_prior. Short RTT, all acks at t = 0, so the
    // cubic curve alone would barely move.
    [Fact]
    public void RenoFriendlyRegionTakesOverWhenWEstExceedsWCubic()
    {
        var cc = AfterLoss();
        RttEstimator shortRtt = Rtt(Ms(1));

        // Model of Figure 4 computed here: W_est += alpha * MSS * acked / cwnd, cwnd = max(cwnd, W_est).
        double wEst = 70.0 * Mss;
        long cwnd = 70 * Mss;
        long windowAfterOneWindow = 0;
        long alphaOneStart = -1;
        int alphaOneWindowEnd = -1;
        long growthAfterAlphaOne = -1;
        for (int acked = 1; growthAfterAlphaOne < 0; acked++)
        {
            cc.OnPacketSent(Ms(301), Mss);
            cc.OnPacketAcknowledged(Ms(400), Ms(301), Mss, shortRtt);
            double alpha = wEst >= 100.0 * Mss ? 1.0 : RfcAlpha;
            wEst += alpha * Mss * Mss / cwnd;
            cwnd = Math.Max(cwnd, (long)wEst);
            Assert.Equal(cwnd, cc.CongestionWindow);

            // The first window of the stage: 70 segments.
            if (acked == 70) windowAfterOneWindow = cwnd;

            if (alphaOneStart < 0 && wEst >= 100.0 * Mss)
            {
                alphaOneStart = cwnd;
                alphaOneWindowEnd = acked + (int)(cwnd / Mss);
            }
            else if (acked == alphaOneWindowEnd)
            {
                growthAfterAlphaOne = cwnd - alphaOneStart;
            }
        }

        // One window at alpha_cubic ~= 0.53 segments; the cubic target one RTT (1 ms) ahead adds only ~25 bytes.
        Assert.InRange(windowAfterOneWindow - (70 * Mss), (long)(0.5 * Mss), (long)(0.56 * Mss));
        double k = Math.Cbrt((100.0 - 70.0) / RfcC);
        Assert.True(windowAfterOneWindow > RfcWCubicSegments(0.001, k, 100) * Mss + (0.4 * Mss));

        // After W_est >= cwnd_prior, alpha_cubic = 1: about one segment per window.
        Assert.InRange(growthAfterAlphaOne, (long)(0.98 * Mss), (long)(1.02 * Mss));
    }

    // RFC 9438 §4.7: with fast convergence, a congestion event below the previous W_max sets
    // W_max = cwnd * (1 + beta_cubic) / 2; without it, W_max = cwnd.
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void FastConvergenceLowersWMax(bool fastConvergence)
    {
        var cc = AfterLoss(new CubicCongestionControllerOptions { FastConvergence = fastConvergence });
        cc.OnPacketSent(Ms(301), Mss);
        cc.OnPacketsLost(Ms(500), Mss, Ms(301), persistentCongestion: false);

        double cwndAtEvent = 70.0 * Mss;
        double expectedWMax = fastConvergence ? cwndAtEvent * (1 + RfcBeta) / 2 : cwndAtEvent;
        Assert.Equal(expectedWMax, cc.WMax, 6);
        Assert.Equal(cwndAtEvent, cc.CwndPrior);
        Assert.Equal((long)(cwndAtEvent * RfcBeta), cc.CongestionWindow);

        // The next stage's K uses the lowered W_max (Figure 2).
        cc.OnPacketSent(Ms(501), Mss);
        cc.OnPacketAcknowledged(Ms(600), Ms(501), Mss, Rtt100);
        double cwndEpoch = Math.Floor(cwndAtEvent * RfcBeta);
        Assert.Equal(Math.Cbrt((expectedWMax - cwndEpoch) / (RfcC * Mss)), cc.K, 9);
    }

    // RFC 9002 §7.6.2: persistent congestion collapses to the minimum window; RFC 9438 §4.8: the next congestion
    // avoidance stage uses K = 0 and W_max = W_est = cwnd at its beginning.
    [Fact]
    public void PersistentCongestionCollapsesAndRestartsTheCurve()
    {
        var cc = AfterLoss();
        cc.OnPacketSent(Ms(301), Mss);
        cc.OnPacketsLost(Ms(3000), Mss, Ms(301), persistentCongestion: true);
        Assert.Equal(2 * Mss, cc.CongestionWindow);
        long ssthresh = cc.SlowStartThreshold;
        Assert.Equal((long)(70 * Mss * RfcBeta), ssthresh);

        // Slow start back to ssthresh, then the first congestion avoidance acknowledgment starts the stage.
        GrowTo(cc, ssthresh, Ms(3001), Ms(3100), Mss, Rtt100);
        long cwndEpoch = cc.CongestionWindow;
        cc.OnPacketSent(Ms(3101), Mss);
        cc.OnPacketAcknowledged(Ms(3200), Ms(3101), Mss, Rtt100);
        Assert.True(cc.EpochActive);
        Assert.Equal(0, cc.K);
        Assert.Equal(cwndEpoch, cc.WMax);
        Assert.Equal(cwndEpoch, cc.CwndPrior);
        Assert.Equal(cwndEpoch + (1.0 * Mss * Mss / cwndEpoch), cc.WEst, 6);
    }

    // RFC 9438 §5.8 / RFC 9002 §7.8: no growth while application-limited, and that time is not counted in t.
    [Fact]
    public void ApplicationLimitedDoesNotGrowAndIsExcludedFromT()
    {
        var cc = AfterLoss();
        for (int i = 0; i < 4; i++) cc.OnPacketSent(Ms(301), Mss);
        cc.OnPacketAcknowledged(Ms(400), Ms(301), Mss, Rtt100);
        long window = cc.CongestionWindow;

        cc.IsApplicationLimited = true;
        cc.OnPacketAcknowledged(Ms(500), Ms(301), Mss, Rtt100);
        cc.OnPacketAcknowledged(Ms(5000), Ms(301), Mss, Rtt100);
        Assert.Equal(window, cc.CongestionWindow);

        // Ten application-limited seconds (500 ms .. 10.5 s) move t_epoch from 400 ms to 10.4 s.
        cc.IsApplicationLimited = false;
        cc.OnPacketAcknowledged(Ms(10_500), Ms(301), Mss, Rtt100);
        Assert.Equal(Ms(10_400), cc.EpochStart);

        // So the growth is that of t = 0.1 s, far below the 1.5 * cwnd cap that t = 10.1 s would reach.
        Assert.InRange(cc.CongestionWindow - window, 1, Mss / 4);
    }

    // RFC 9438 §5.8: idle time (nothing in flight, no acknowledgments) is not counted in t either.
    [Fact]
    public void IdlePeriodIsExcludedFromT()
    {
        var cc = AfterLoss();
        cc.OnPacketSent(Ms(301), Mss);
        cc.OnPacketAcknowledged(Ms(400), Ms(301), Mss, Rtt100);
        Assert.Equal(0, cc.BytesInFlight);

        cc.OnPacketSent(Ms(5400), Mss);
        Assert.Equal(Ms(5400), cc.EpochStart);
    }

    // Large t: the double arithmetic stays finite and the window obeys the 1.5 * cwnd clamp (no overflow).
    [Fact]
    public void HugeElapsedTimeDoesNotOverflow()
    {
        var cc = AfterLoss();
        cc.OnPacketSent(Ms(301), Mss);
        cc.OnPacketSent(Ms(301), Mss);
        cc.OnPacketAcknowledged(Ms(400), Ms(301), Mss, Rtt100);
        long before = cc.CongestionWindow;
        cc.OnPacketAcknowledged(TimeSpan.FromDays(3650), Ms(301), Mss, Rtt100);
        Assert.Equal(before + (Mss / 2), cc.CongestionWindow);
    }
}
