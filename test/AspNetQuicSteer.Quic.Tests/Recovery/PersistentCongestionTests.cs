using AspNetQuicSteer.Quic.Recovery;
using AspNetQuicSteer.Quic.Recovery.Congestion;
using static AspNetQuicSteer.Quic.Tests.Recovery.CongestionTestKit;

namespace AspNetQuicSteer.Quic.Tests.Recovery;

public sealed class PersistentCongestionTests
{
    private static readonly TimeSpan MaxAckDelay = Ms(25);

    // RFC 9002 §7.6.1: (smoothed_rtt + max(4 * rttvar, kGranularity) + max_ack_delay) * 3. After one 100 ms sample,
    // rttvar = 50 ms: (100 + 200 + 25) * 3 = 975 ms.
    [Fact]
    public void DurationFollowsSection7_6_1()
    {
        Assert.Equal(3, PersistentCongestion.Threshold);
        Assert.Equal(Ms(975), PersistentCongestion.Duration(Rtt(Ms(100)), MaxAckDelay));

        // RFC 9002 §7.6.1: kGranularity (1 ms) floors the variance term. Many identical 10 ms samples shrink rttvar.
        RttEstimator steady = Rtt(Ms(10));
        for (int i = 0; i < 200; i++) steady.Update(Ms(10), TimeSpan.Zero);
        Assert.True(4 * steady.RttVariance < Ms(1));
        Assert.Equal((steady.SmoothedRtt + Ms(1) + MaxAckDelay) * 3, PersistentCongestion.Duration(steady, MaxAckDelay));
    }

    // RFC 9002 §7.6.2: established when the span between the two lost packets exceeds the duration, nothing in between
    // was acknowledged, and both were sent after the first RTT sample.
    [Theory]
    [InlineData(1000, 1976, true, 1000, true)]    // span 976 ms > 975 ms
    [InlineData(1000, 1975, true, 1000, false)]   // span equal to the duration: not more
    [InlineData(1000, 1500, true, 1000, false)]   // too short
    [InlineData(1000, 5000, false, 1000, false)]  // an acknowledged packet lies between them
    [InlineData(900, 5000, true, 1000, false)]    // earliest sent before the first RTT sample
    public void IsEstablishedFollowsSection7_6_2(int earliestMs, int latestMs, bool noneAcked, int firstSampleMs, bool expected)
        => Assert.Equal(expected, PersistentCongestion.IsEstablished(Ms(earliestMs), Ms(latestMs), noneAcked, Ms(firstSampleMs), Rtt(Ms(100)), MaxAckDelay));

    // RFC 9002 §7.6.2: no persistent congestion without an RTT sample.
    [Fact]
    public void NotEstablishedWithoutAnRttSample()
        => Assert.False(PersistentCongestion.IsEstablished(Ms(0), Seconds(60), true, Ms(0), new RttEstimator(), MaxAckDelay));

    // RFC 9002 §7.6.2 / §B.8: the helper's verdict, passed to OnPacketsLost, collapses either controller to the minimum.
    [Fact]
    public void VerdictCollapsesEitherControllerToTheMinimumWindow()
    {
        RttEstimator rtt = Rtt(Ms(100));
        ICongestionController[] controllers = [new NewRenoCongestionController(Ms(0), 1350), new CubicCongestionController(Ms(0), 1350)];
        foreach (ICongestionController cc in controllers)
        {
            GrowTo(cc, 100_000, Ms(0), Ms(100), 1350, rtt);
            cc.OnPacketSent(Ms(1000), 1350);
            cc.OnPacketSent(Ms(2000), 1350);
            bool persistent = PersistentCongestion.IsEstablished(Ms(1000), Ms(2000), true, Ms(100), rtt, MaxAckDelay);
            Assert.True(persistent);
            cc.OnPacketsLost(Ms(3000), 2700, Ms(2000), persistent);
            Assert.Equal(2700, cc.CongestionWindow);
            Assert.Equal(0, cc.BytesInFlight);
        }
    }
}
