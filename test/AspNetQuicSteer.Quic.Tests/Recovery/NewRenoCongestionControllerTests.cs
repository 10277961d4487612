using AspNetQuicSteer.Quic.Recovery;
using AspNetQuicSteer.Quic.Recovery.Congestion;
using static AspNetQuicSteer.Quic.Tests.Recovery.CongestionTestKit;

namespace AspNetQuicSteer.Quic.Tests.Recovery;

public sealed class NewRenoCongestionControllerTests
{
    private static readonly RttEstimator Rtt100 = Rtt(Ms(100));

    // RFC 9002 §7.2: initial window = min(10 * max_datagram_size, max(14720, 2 * max_datagram_size)).
    [Theory]
    [InlineData(1200, 12000)]
    [InlineData(1252, 12520)]
    [InlineData(1350, 13500)]
    [InlineData(1472, 14720)]
    [InlineData(1500, 14720)]
    [InlineData(4000, 14720)]
    [InlineData(7360, 14720)]
    [InlineData(9000, 18000)]
    [InlineData(65527, 131054)]
    public void InitialWindowFollowsSection7_2(int maxDatagramSize, long expected)
    {
        Assert.Equal(expected, CongestionWindows.InitialWindow(maxDatagramSize));
        Assert.Equal(expected, new NewRenoCongestionControllerFactory().Create(Ms(0), maxDatagramSize).CongestionWindow);
        Assert.Equal(expected, new CubicCongestionControllerFactory().Create(Ms(0), maxDatagramSize).CongestionWindow);
    }

    // RFC 9002 §7.2: kMinimumWindow = 2 * max_datagram_size.
    [Theory]
    [InlineData(1200)]
    [InlineData(1500)]
    [InlineData(9000)]
    public void MinimumWindowIsTwoDatagrams(int maxDatagramSize)
    {
        var cc = new NewRenoCongestionController(Ms(0), maxDatagramSize);
        Assert.Equal(2L * maxDatagramSize, cc.MinimumWindow);

        // RFC 9002 §7.3.2: however many reductions, the window stays at or above the minimum.
        for (int i = 0; i < 20; i++)
        {
            cc.OnPacketSent(Ms(i * 10), maxDatagramSize);
            cc.OnPacketsLost(Ms((i * 10) + 5), maxDatagramSize, Ms(i * 10), persistentCongestion: false);
        }

        Assert.Equal(2L * maxDatagramSize, cc.CongestionWindow);
    }

    // RFC 9002 §7.3.1: in slow start each acknowledgment grows the window by the bytes it acknowledges.
    [Fact]
    public void SlowStartGrowsByAcknowledgedBytes()
    {
        var cc = new NewRenoCongestionController(Ms(0), 1200);
        Assert.True(cc.InSlowStart);
        long[] expected = [12000, 13200, 14400, 15600, 16800, 18000];
        for (int i = 0; i < 10; i++) cc.OnPacketSent(Ms(0), 1200);
        Assert.Equal(12000, cc.BytesInFlight);
        Assert.Equal(0, cc.AvailableWindow);

        for (int i = 1; i < expected.Length; i++)
        {
            cc.OnPacketAcknowledged(Ms(100), Ms(0), 1200, Rtt100);
            Assert.Equal(expected[i], cc.CongestionWindow);
        }

        // A partial datagram grows it by exactly its size.
        cc.OnPacketSent(Ms(100), 700);
        cc.OnPacketAcknowledged(Ms(200), Ms(100), 700, Rtt100);
        Assert.Equal(18700, cc.CongestionWindow);
    }

    // RFC 9002 §7.3.2 / §B.6: a loss halves the window (kLossReductionFactor 0.5) and sets ssthresh.
    [Fact]
    public void LossHalvesTheWindowAndEntersCongestionAvoidance()
    {
        var cc = new NewRenoCongestionController(Ms(0), 1200);
        GrowTo(cc, 40000, Ms(0), Ms(100), 1200, Rtt100);
        Assert.Equal(40000, cc.CongestionWindow);

        cc.OnPacketSent(Ms(150), 1200);
        cc.OnPacketsLost(Ms(300), 1200, Ms(150), persistentCongestion: false);
        Assert.Equal(20000, cc.CongestionWindow);
        Assert.Equal(20000, cc.SlowStartThreshold);
        Assert.False(cc.InSlowStart);
        Assert.Equal(0, cc.BytesInFlight);
    }

    // RFC 9002 §7.3.3 / §B.5: congestion avoidance adds one max_datagram_size per window of acknowledged bytes.
    [Fact]
    public void CongestionAvoidanceAddsOneDatagramPerWindow()
    {
        var cc = new NewRenoCongestionController(Ms(0), 1200);
        GrowTo(cc, 24000, Ms(0), Ms(100), 1200, Rtt100);
        cc.OnPacketSent(Ms(100), 1200);
        cc.OnPacketsLost(Ms(200), 1200, Ms(100), persistentCongestion: false);
        Assert.Equal(12000, cc.CongestionWindow);

        // Packets sent after the recovery start: 9 of 10 datagrams acknowledged do not complete a window.
        SendAndAcknowledge(cc, Ms(300), Ms(400), 9, 1200, Rtt100);
        Assert.Equal(12000, cc.CongestionWindow);
        SendAndAcknowledge(cc, Ms(300), Ms(400), 1, 1200, Rtt100);
        Assert.Equal(13200, cc.CongestionWindow);

        // The next window is 13200 bytes = 11 datagrams.
        SendAndAcknowledge(cc, Ms(400), Ms(500), 10, 1200, Rtt100);
        Assert.Equal(13200, cc.CongestionWindow);
        SendAndAcknowledge(cc, Ms(400), Ms(500), 1, 1200, Rtt100);
        Assert.Equal(14400, cc.CongestionWindow);
    }

    // RFC 9002 §7.3.2: one reduction per round trip. Losses (and CE marks) of packets sent before the recovery
    // period began do not reduce again, and their acknowledgments do not grow the window; a packet sent after the
    // recovery start ends the period.
    [Fact]
    public void OneReductionPerRecoveryPeriod()
    {
        var cc = new NewRenoCongestionController(Ms(0), 1200);
        GrowTo(cc, 48000, Ms(0), Ms(100), 1200, Rtt100);
        for (int i = 0; i < 10; i++) cc.OnPacketSent(Ms(200 + i), 1200);

        cc.OnPacketsLost(Ms(350), 1200, Ms(200), persistentCongestion: false);
        Assert.Equal(24000, cc.CongestionWindow);

        // Further losses of packets sent before the recovery start (350 ms): no new reduction.
        cc.OnPacketsLost(Ms(360), 2400, Ms(202), persistentCongestion: false);
        cc.OnCongestionExperienced(Ms(365), Ms(203));
        Assert.Equal(24000, cc.CongestionWindow);

        // Acknowledgments of packets sent before the recovery start: no growth.
        cc.OnPacketAcknowledged(Ms(370), Ms(204), 1200, Rtt100);
        Assert.Equal(24000, cc.CongestionWindow);
        Assert.Equal(6 * 1200, cc.BytesInFlight);

        // A loss of a packet sent after the recovery start is a new congestion event.
        cc.OnPacketSent(Ms(400), 1200);
        cc.OnPacketsLost(Ms(520), 1200, Ms(400), persistentCongestion: false);
        Assert.Equal(12000, cc.CongestionWindow);
    }

    // RFC 9002 §7.3.2 / §B.5: acknowledging a packet sent during the recovery period ends it.
    [Fact]
    public void AcknowledgingAPacketSentAfterRecoveryStartEndsRecovery()
    {
        var cc = new NewRenoCongestionController(Ms(0), 1200);
        GrowTo(cc, 24000, Ms(0), Ms(100), 1200, Rtt100);
        cc.OnPacketSent(Ms(100), 1200);
        cc.OnPacketsLost(Ms(200), 1200, Ms(100), persistentCongestion: false);

        // Packet sent exactly at the recovery start still belongs to the period (§B.6 uses <=).
        cc.OnPacketSent(Ms(200), 12000);
        cc.OnPacketAcknowledged(Ms(300), Ms(200), 12000, Rtt100);
        Assert.Equal(12000, cc.CongestionWindow);

        cc.OnPacketSent(Ms(201), 12000);
        cc.OnPacketAcknowledged(Ms(301), Ms(201), 12000, Rtt100);
        Assert.Equal(13200, cc.CongestionWindow);
    }

    // RFC 9002 §7.6.2 / §B.8: persistent congestion collapses the window to kMinimumWindow and ends recovery.
    [Fact]
    public void PersistentCongestionCollapsesToMinimumWindow()
    {
        var cc = new NewRenoCongestionController(Ms(0), 1200);
        GrowTo(cc, 60000, Ms(0), Ms(100), 1200, Rtt100);
        for (int i = 0; i < 5; i++) cc.OnPacketSent(Ms(100 + (i * 300)), 1200);

        cc.OnPacketsLost(Ms(2000), 6000, Ms(1300), persistentCongestion: true);
        Assert.Equal(2400, cc.CongestionWindow);
        Assert.Equal(30000, cc.SlowStartThreshold);
        Assert.Equal(0, cc.BytesInFlight);

        // The recovery period ended (§B.8 resets congestion_recovery_start_time): slow start resumes at once.
        cc.OnPacketSent(Ms(2000), 1200);
        cc.OnPacketAcknowledged(Ms(2100), Ms(2000), 1200, Rtt100);
        Assert.Equal(3600, cc.CongestionWindow);
    }

    // RFC 9002 §7.1 / §B.7: an ECN-CE report is a congestion event.
    [Fact]
    public void EcnCongestionExperiencedReducesTheWindow()
    {
        var cc = new NewRenoCongestionController(Ms(0), 1200);
        cc.OnPacketSent(Ms(0), 1200);
        cc.OnCongestionExperienced(Ms(100), Ms(0));
        Assert.Equal(6000, cc.CongestionWindow);
        Assert.Equal(1200, cc.BytesInFlight);
    }

    // RFC 9002 §7.8 / §B.5: no growth while application-limited, in slow start or congestion avoidance.
    [Fact]
    public void ApplicationLimitedDoesNotGrowTheWindow()
    {
        var cc = new NewRenoCongestionController(Ms(0), 1200) { IsApplicationLimited = true };
        SendAndAcknowledge(cc, Ms(0), Ms(100), 5, 1200, Rtt100);
        Assert.Equal(12000, cc.CongestionWindow);

        cc.IsApplicationLimited = false;
        SendAndAcknowledge(cc, Ms(100), Ms(200), 1, 1200, Rtt100);
        Assert.Equal(13200, cc.CongestionWindow);

        // Congestion avoidance as well.
        cc.OnPacketSent(Ms(200), 1200);
        cc.OnPacketsLost(Ms(300), 1200, Ms(200), persistentCongestion: false);
        long window = cc.CongestionWindow;
        cc.IsApplicationLimited = true;
        SendAndAcknowledge(cc, Ms(400), Ms(500), 3, 1200, Rtt100);
        SendAndAcknowledge(cc, Ms(400), Ms(500), 10, 1200, Rtt100);
        Assert.Equal(window, cc.CongestionWindow);
    }

    // RFC 9002 §7.8: a window in full use is not application-limited; the controller clears the flag itself.
    [Fact]
    public void FillingTheWindowClearsApplicationLimited()
    {
        var cc = new NewRenoCongestionController(Ms(0), 1200) { IsApplicationLimited = true };
        for (int i = 0; i < 9; i++) cc.OnPacketSent(Ms(0), 1200);
        Assert.True(cc.IsApplicationLimited);
        cc.OnPacketSent(Ms(0), 1200);
        Assert.False(cc.IsApplicationLimited);
        cc.OnPacketAcknowledged(Ms(100), Ms(0), 1200, Rtt100);
        Assert.Equal(13200, cc.CongestionWindow);
    }

    // RFC 9002 §6.4 / §B.9: discarded packets leave bytes_in_flight without changing the window.
    [Fact]
    public void DiscardingPacketsOnlyReducesBytesInFlight()
    {
        var cc = new NewRenoCongestionController(Ms(0), 1200);
        cc.OnPacketSent(Ms(0), 1200);
        cc.OnPacketSent(Ms(0), 1200);
        cc.OnPacketsDiscarded(2400);
        Assert.Equal(0, cc.BytesInFlight);
        Assert.Equal(12000, cc.CongestionWindow);
        Assert.Equal(12000, cc.AvailableWindow);

        // Over-reporting never drives bytes_in_flight negative.
        cc.OnPacketsDiscarded(5000);
        Assert.Equal(0, cc.BytesInFlight);
    }

    // RFC 9002 §7.2: a datagram size change recomputes the initial window while it is unused, and afterwards keeps
    // the window at or above the new minimum.
    [Fact]
    public void MaxDatagramSizeChangeRecomputesInitialWindowThenMinimum()
    {
        var cc = new NewRenoCongestionController(Ms(0), 1200);
        cc.OnMaxDatagramSizeChanged(1500);
        Assert.Equal(14720, cc.CongestionWindow);

        for (int i = 0; i < 10; i++)
        {
            cc.OnPacketSent(Ms(i * 10), 1500);
            cc.OnPacketsLost(Ms((i * 10) + 5), 1500, Ms(i * 10), persistentCongestion: false);
        }

        Assert.Equal(3000, cc.CongestionWindow);
        cc.OnMaxDatagramSizeChanged(9000);
        Assert.Equal(18000, cc.CongestionWindow);
        Assert.Throws<ArgumentOutOfRangeException>(() => cc.OnMaxDatagramSizeChanged(1199));
    }

    // Options: initial and minimum windows in datagrams, validated (RFC 9002 §7.2 bounds).
    [Fact]
    public void OptionsConfigureAndValidateWindows()
    {
        var factory = new NewRenoCongestionControllerFactory(new NewRenoCongestionControllerOptions { InitialWindowPackets = 32, MinimumWindowPackets = 4 });
        var cc = (NewRenoCongestionController)factory.Create(Ms(0), 1200);
        Assert.Equal(38400, cc.CongestionWindow);
        Assert.Equal(4800, cc.MinimumWindow);

        Assert.Throws<ArgumentOutOfRangeException>(() => new NewRenoCongestionControllerOptions { MinimumWindowPackets = 1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new NewRenoCongestionControllerOptions { InitialWindowPackets = 1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new CubicCongestionControllerOptions { InitialWindowPackets = 100_000 });
        Assert.Throws<ArgumentException>(() => new NewRenoCongestionControllerFactory(new NewRenoCongestionControllerOptions { InitialWindowPackets = 3, MinimumWindowPackets = 4 }));
        Assert.Throws<ArgumentException>(() => new CubicCongestionControllerFactory(new CubicCongestionControllerOptions { InitialWindowPackets = 3, MinimumWindowPackets = 4 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => factory.Create(Ms(0), 1000));
    }

    // The factory the transport uses by default builds CUBIC controllers.
    [Fact]
    public void FactoriesBuildTheirControllers()
    {
        Assert.IsType<CubicCongestionController>(new CubicCongestionControllerFactory().Create(Ms(0), 1200));
        Assert.IsType<NewRenoCongestionController>(new NewRenoCongestionControllerFactory().Create(Ms(0), 1200));
    }
}
