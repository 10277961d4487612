using AspNetQuicSteer.Quic.Recovery;
using AspNetQuicSteer.Quic.Recovery.Congestion;

namespace AspNetQuicSteer.Quic.Tests.Recovery;

/// <summary>Small drivers shared by the congestion control tests.</summary>
internal static class CongestionTestKit
{
    public static TimeSpan Ms(double milliseconds) => TimeSpan.FromMilliseconds(milliseconds);

    public static TimeSpan Seconds(double seconds) => TimeSpan.FromSeconds(seconds);

    /// <summary>An estimator whose smoothed RTT is <paramref name="sample"/> (RFC 9002 §5.3: the first sample sets it).</summary>
    public static RttEstimator Rtt(TimeSpan sample)
    {
        var rtt = new RttEstimator();
        rtt.Update(sample, TimeSpan.Zero);
        return rtt;
    }

    /// <summary>Sends and acknowledges <paramref name="packets"/> packets of <paramref name="size"/> bytes, one at a time.</summary>
    public static void SendAndAcknowledge(ICongestionController cc, TimeSpan sent, TimeSpan acked, int packets, int size, RttEstimator rtt)
    {
        for (int i = 0; i < packets; i++)
        {
            cc.OnPacketSent(sent, size);
            cc.OnPacketAcknowledged(acked, sent, size, rtt);
        }
    }

    /// <summary>Slow start until the window is at least <paramref name="window"/>; returns the window reached.</summary>
    public static long GrowTo(ICongestionController cc, long window, TimeSpan sent, TimeSpan acked, int size, RttEstimator rtt)
    {
        while (cc.CongestionWindow < window)
        {
            int chunk = (int)Math.Min(size, window - cc.CongestionWindow);
            cc.OnPacketSent(sent, chunk);
            cc.OnPacketAcknowledged(acked, sent, chunk, rtt);
        }

        return cc.CongestionWindow;
    }
}
