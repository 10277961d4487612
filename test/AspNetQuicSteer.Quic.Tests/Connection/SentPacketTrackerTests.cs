using AspNetQuicSteer.Quic.Connection;
using CsCheck;

namespace AspNetQuicSteer.Quic.Tests.Connection;

public sealed class SentPacketTrackerTests
{
    [Fact]
    public void RemovingWhileScanningByIndexVisitsEveryPacket()
    {
        // Regression: compaction during a scan shifted indices and skipped every other acknowledged packet, which
        // then looked lost (RFC 9002 §6.1 spurious losses).
        var tracker = new SentPacketTracker();
        for (ulong pn = 0; pn < 10; pn++) Commit(tracker, pn);

        int visited = 0;
        for (int slot = tracker.LowerBound(0); slot < tracker.SlotCount; slot++)
        {
            if (tracker.Slot(slot).Removed) continue;
            visited++;
            tracker.Remove(slot);
        }

        tracker.Compact();
        Assert.Equal(10, visited);
        Assert.Equal(0, tracker.Count);
        Assert.Equal(0, tracker.BytesInFlight);
    }

    [Fact]
    public void KeepsFramesOfLivePacketsUnderRandomAckAndLoss()
    {
        Gen.Int[0, 3].Array[50, 400].Sample(ops =>
        {
            var tracker = new SentPacketTracker();
            var live = new SortedSet<ulong>();
            ulong next = 0;
            var random = new Random(ops.Length);
            foreach (int op in ops)
            {
                if (op < 2 || live.Count == 0)
                {
                    Commit(tracker, next);
                    live.Add(next++);
                }
                else
                {
                    // Resolve a random window of packets, scanning by index as the connection does.
                    ulong from = live.Min + (ulong)random.Next(0, 4);
                    ulong to = from + (ulong)random.Next(0, 6);
                    for (int slot = tracker.LowerBound(from); slot < tracker.SlotCount; slot++)
                    {
                        ref SentPacket p = ref tracker.Slot(slot);
                        if (p.PacketNumber > to) break;
                        if (p.Removed) continue;
                        live.Remove(p.PacketNumber);
                        tracker.Remove(slot);
                    }

                    tracker.Compact();
                }
            }

            var seen = new List<ulong>();
            for (int slot = 0; slot < tracker.SlotCount; slot++)
            {
                ref SentPacket p = ref tracker.Slot(slot);
                if (p.Removed) continue;
                seen.Add(p.PacketNumber);
                foreach (ref SentFrame f in tracker.GetFrames(p))
                {
                    if (f.Value != p.PacketNumber) return false; // frames stay attached to their packet
                }
            }

            return seen.SequenceEqual(live) && tracker.Count == live.Count;
        }, iter: 2_000);
    }

    private static void Commit(SentPacketTracker tracker, ulong pn)
    {
        tracker.BeginPacket();
        tracker.Record(SentFrame.ForValue(SentFrameKind.MaxData, pn));
        tracker.Record(SentFrame.ForValue(SentFrameKind.Ping, pn));
        tracker.CommitPacket(new SentPacket { PacketNumber = pn, Size = 100, AckEliciting = true, InFlight = true });
    }
}
