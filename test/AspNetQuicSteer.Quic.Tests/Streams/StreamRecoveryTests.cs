using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Frames;
using AspNetQuicSteer.Quic.Streams;
using AspNetQuicSteer.Quic.TransportParameters;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Tests.Streams;

/// <summary>Packetization, acknowledgment and loss handling of one manager, packet by packet (RFC 9000 §13.3).</summary>
public sealed class StreamRecoveryTests
{
    private static readonly TimeSpan Rtt = TimeSpan.FromMilliseconds(20);

    internal static (byte[] Payload, SentFrame[] Frames) Build(QuicStreamManager m, int size = 1200, TimeSpan? now = null)
    {
        var sink = new RecordingSink();
        byte[] buffer = new byte[size];
        var writer = new QuicWriter(buffer);
        bool wrote = m.WriteFrames(ref writer, sink, now ?? TimeSpan.FromSeconds(1), Rtt);
        Assert.Equal(wrote, sink.Frames.Count > 0);
        return (writer.Written.ToArray(), [.. sink.Frames]);
    }

    private static QuicStreamManager NewClient(ulong peerStreamCredit = 1 << 20, ulong peerMaxData = 1 << 20, QuicStreamOptions? options = null)
    {
        var m = new QuicStreamManager(isServer: false, options ?? new QuicStreamOptions());
        m.ApplyPeerTransportParameters(new QuicTransportParameters
        {
            InitialMaxData = peerMaxData,
            InitialMaxStreamDataBidiLocal = peerStreamCredit,
            InitialMaxStreamDataBidiRemote = peerStreamCredit,
            InitialMaxStreamDataUni = peerStreamCredit,
            InitialMaxStreamsBidi = 4,
            InitialMaxStreamsUni = 4,
        });
        return m;
    }

    private static SentFrame Single(SentFrame[] frames, SentFrameKind kind) => Assert.Single(frames, f => f.Kind == kind);

    [Fact]
    public void LostData_ResendsOnlyTheRangesNotAcknowledgedSince()
    {
        QuicStreamManager m = NewClient();
        Assert.True(m.TryOpenStream(bidirectional: false, out ulong id));
        Assert.Equal(3000, m.Write(id, new byte[3000], fin: true));
        SentFrame a = Single(Build(m, 1000).Frames, SentFrameKind.Stream);
        SentFrame b = Single(Build(m, 1000).Frames, SentFrameKind.Stream);
        SentFrame c = Single(Build(m, 1200).Frames, SentFrameKind.Stream);
        Assert.Equal(3000UL, c.Offset + c.Length);
        Assert.True(c.Fin);
        Assert.False(m.HasDataToSend);

        // B acknowledged, then all three declared lost: B's loss is moot (RFC 9000 §13.3).
        m.OnFrameAcknowledged(b);
        m.OnFrameLost(a);
        m.OnFrameLost(b);
        m.OnFrameLost(c);
        SentFrame[] resent = Build(m, 4000).Frames;
        Assert.Equal(2, resent.Length);
        Assert.Equal((a.Offset, a.Length, false), (resent[0].Offset, resent[0].Length, resent[0].Fin));
        Assert.Equal((c.Offset, c.Length, true), (resent[1].Offset, resent[1].Length, resent[1].Fin));

        // A is lost again after a late acknowledgment of its first copy: nothing left to resend.
        m.OnFrameAcknowledged(a);
        m.OnFrameLost(resent[0]);
        Assert.False(m.HasDataToSend);

        // Part of C's range acknowledged by a smaller retransmission; C's copy lost: only the rest goes.
        m.OnFrameLost(resent[1]);
        SentFrame part = Single(Build(m, 500).Frames, SentFrameKind.Stream);
        Assert.Equal(c.Offset, part.Offset);
        Assert.True(part.Length < c.Length);
        m.OnFrameAcknowledged(part);
        m.OnFrameLost(c);
        SentFrame rest = Single(Build(m, 4000).Frames, SentFrameKind.Stream);
        Assert.Equal(part.Offset + part.Length, rest.Offset);
        Assert.Equal(3000UL, rest.Offset + rest.Length);
        Assert.True(rest.Fin);
        Assert.Equal(3000UL, m.SentData);

        // Every byte and the FIN acknowledged: Data Recvd (RFC 9000 §3.1), and the send-only stream is released.
        Assert.True(m.TryGetSendState(id, out SendStreamState state));
        Assert.Equal(SendStreamState.DataSent, state);
        m.OnFrameAcknowledged(rest);
        Assert.False(m.IsStreamActive(id));
        m.OnFrameAcknowledged(c);
        Assert.True(m.TryDequeueEvent(out QuicStreamEvent e));
        Assert.Equal(QuicStreamEventKind.SendCompleted, e.Kind);
    }

    [Fact]
    public void Retransmissions_GoBeforeNewData_AndStreamsShareRoundRobin()
    {
        QuicStreamManager m = NewClient();
        var ids = new ulong[3];
        for (int i = 0; i < 3; i++)
        {
            Assert.True(m.TryOpenStream(bidirectional: true, out ids[i]));
            Assert.Equal(20_000, m.Write(ids[i], new byte[20_000], fin: false));
        }

        var order = new List<ulong>();
        SentFrame firstOfA = default;
        for (int i = 0; i < 6; i++)
        {
            SentFrame frame = Single(Build(m).Frames, SentFrameKind.Stream);
            order.Add(frame.StreamId);
            if (i == 0)
            {
                firstOfA = frame;
            }
        }

        Assert.Equal([ids[0], ids[1], ids[2], ids[0], ids[1], ids[2]], order);

        m.OnFrameLost(firstOfA);
        SentFrame[] next = Build(m, 3000).Frames;
        Assert.Equal((ids[0], firstOfA.Offset, firstOfA.Length), (next[0].StreamId, next[0].Offset, next[0].Length));
        Assert.True(next.Length > 1);
        Assert.True(next[1].Offset > 0);
    }

    [Fact]
    public void LostMaxData_IsResentWithTheCurrentLimitOnly()
    {
        var options = new QuicStreamOptions { InitialConnectionReceiveWindow = 2000 };
        QuicStreamManager server = StreamErrorTests.NewServer(options);
        server.OnStreamFrame(new StreamFrame(0, 0, new byte[1000], fin: false));
        Assert.Equal(1000, server.Read(0, new byte[2000], out _));
        MaxDataFrame first = ReadMaxData(Build(server).Payload);
        Assert.Equal(3000UL, first.MaximumData);

        server.OnStreamFrame(new StreamFrame(0, 1000, new byte[1000], fin: false));
        Assert.Equal(1000, server.Read(0, new byte[2000], out _));
        (byte[] payload, SentFrame[] frames) = Build(server, now: TimeSpan.FromSeconds(5));
        Assert.Equal(4000UL, ReadMaxData(payload).MaximumData);
        Assert.False(server.HasDataToSend);

        // RFC 9000 §13.3: an outdated MAX_DATA is not resent; the current one is.
        server.OnFrameLost(SentFrame.ForValue(SentFrameKind.MaxData, 3000));
        Assert.False(server.HasDataToSend);
        server.OnFrameLost(Single(frames, SentFrameKind.MaxData));
        Assert.True(server.HasDataToSend);
        Assert.Equal(4000UL, ReadMaxData(Build(server, now: TimeSpan.FromSeconds(6)).Payload).MaximumData);
    }

    private static MaxDataFrame ReadMaxData(byte[] payload)
    {
        var reader = new FrameReader(payload, AspNetQuicSteer.Quic.Crypto.EncryptionLevel.OneRtt, false);
        while (reader.TryReadFrameType(out ulong type))
        {
            switch (FrameTypes.Normalize(type))
            {
                case FrameType.MaxData:
                    return MaxDataFrame.Parse(ref reader.Reader, type);
                case FrameType.MaxStreamData:
                    _ = MaxStreamDataFrame.Parse(ref reader.Reader, type);
                    break;
                default:
                    throw new InvalidOperationException($"unexpected 0x{type:x}");
            }
        }

        throw new InvalidOperationException("no MAX_DATA");
    }

    [Fact]
    public void LostMaxStreamData_IsResentOnlyWhileCurrentAndBeforeTheFinalSizeIsKnown()
    {
        var options = new QuicStreamOptions { InitialStreamReceiveWindow = 1000 };
        QuicStreamManager server = StreamErrorTests.NewServer(options);
        server.OnStreamFrame(new StreamFrame(0, 0, new byte[600], fin: false));
        Assert.Equal(600, server.Read(0, new byte[1000], out _));
        SentFrame update = Single(Build(server).Frames, SentFrameKind.MaxStreamData);
        Assert.Equal(1600UL, update.Value);
        server.OnFrameLost(update);
        Assert.Equal(update.Value, Single(Build(server).Frames, SentFrameKind.MaxStreamData).Value);

        // RFC 9000 §3.2: in Size Known, MAX_STREAM_DATA is no longer needed, even if one was lost.
        server.OnStreamFrame(new StreamFrame(0, 600, new byte[10], fin: true));
        server.OnFrameLost(update);
        Assert.False(server.HasDataToSend);
    }

    [Fact]
    public void LostResetStream_IsResentUntilAcknowledged_AndLostDataOfAResetStreamIsNot()
    {
        QuicStreamManager m = NewClient();
        Assert.True(m.TryOpenStream(bidirectional: false, out ulong id));
        m.Write(id, new byte[500], fin: false);
        SentFrame data = Single(Build(m).Frames, SentFrameKind.Stream);
        m.ResetStream(id, 77);
        SentFrame reset = Single(Build(m).Frames, SentFrameKind.ResetStream);
        Assert.Equal((id, 77UL), (reset.StreamId, reset.Value));

        // RFC 9000 §13.3: stream data of a reset stream is not retransmitted; RESET_STREAM is.
        m.OnFrameLost(data);
        m.OnFrameLost(reset);
        SentFrame[] again = Build(m).Frames;
        SentFrame resent = Assert.Single(again);
        Assert.Equal(SentFrameKind.ResetStream, resent.Kind);

        m.OnFrameAcknowledged(resent);
        Assert.False(m.IsStreamActive(id));
        m.OnFrameLost(reset);
        Assert.False(m.HasDataToSend);
    }

    [Fact]
    public void BlockedFrames_AreResentOnlyWhileStillBlockedAtThatLimit()
    {
        QuicStreamManager m = NewClient(peerStreamCredit: 100, peerMaxData: 150);
        Assert.True(m.TryOpenStream(bidirectional: false, out ulong a));
        Assert.True(m.TryOpenStream(bidirectional: false, out ulong b));
        m.Write(a, new byte[500], fin: false);
        SentFrame[] first = Build(m).Frames;
        SentFrame blocked = Single(first, SentFrameKind.StreamDataBlocked);
        Assert.Equal((a, 100UL), (blocked.StreamId, blocked.Value));
        m.Write(b, new byte[500], fin: false);
        SentFrame[] second = Build(m).Frames;
        SentFrame dataBlocked = Single(second, SentFrameKind.DataBlocked);
        Assert.Equal(150UL, dataBlocked.Value);
        Assert.Equal(150UL, m.SentData);

        // Still blocked: both are resent (RFC 9000 §13.3).
        m.OnFrameLost(blocked);
        m.OnFrameLost(dataBlocked);
        SentFrame[] resent = Build(m).Frames;
        Assert.Equal(100UL, Single(resent, SentFrameKind.StreamDataBlocked).Value);
        Assert.Equal(150UL, Single(resent, SentFrameKind.DataBlocked).Value);

        // New limits: the old blocked frames are stale and dropped when lost.
        m.OnMaxStreamDataFrame(new MaxStreamDataFrame(a, 200));
        m.OnMaxDataFrame(new MaxDataFrame(1000));
        SentFrame[] more = Build(m).Frames;
        Assert.DoesNotContain(more, f => IsStale(f, a));
        Assert.Contains(more, f => f.Kind == SentFrameKind.StreamDataBlocked && f.StreamId == a && f.Value == 200);
        m.OnFrameLost(blocked);
        m.OnFrameLost(dataBlocked);
        SentFrame[] after = m.HasDataToSend ? Build(m).Frames : [];
        Assert.DoesNotContain(after, f => IsStale(f, a));
    }

    private static bool IsStale(SentFrame frame, ulong streamA)
    {
        return (frame.Kind == SentFrameKind.StreamDataBlocked && frame.StreamId == streamA && frame.Value == 100)
            || (frame.Kind == SentFrameKind.DataBlocked && frame.Value == 150);
    }

    [Fact]
    public void StreamsBlocked_OncePerLimit_ResentOnlyWhileBlocked()
    {
        QuicStreamManager m = NewClient();
        for (int i = 0; i < 4; i++)
        {
            Assert.True(m.TryOpenStream(bidirectional: true, out _));
        }

        // RFC 9000 §4.6/§19.14: refused beyond the peer's limit; STREAMS_BLOCKED once for that limit.
        Assert.False(m.TryOpenStream(bidirectional: true, out _));
        Assert.False(m.TryOpenStream(bidirectional: true, out _));
        SentFrame blocked = Assert.Single(Build(m).Frames);
        Assert.Equal((SentFrameKind.StreamsBlockedBidi, 4UL), (blocked.Kind, blocked.Value));
        Assert.False(m.TryOpenStream(bidirectional: true, out _));
        Assert.False(m.HasDataToSend);

        m.OnFrameLost(blocked);
        Assert.Equal(blocked.Value, Assert.Single(Build(m).Frames).Value);

        m.OnMaxStreamsFrame(new MaxStreamsFrame(true, 6));
        Assert.True(m.TryDequeueEvent(out QuicStreamEvent available));
        Assert.Equal(QuicStreamEventKind.StreamsAvailable, available.Kind);
        Assert.True(available.Bidirectional);
        m.OnFrameLost(blocked);
        Assert.False(m.HasDataToSend);
        Assert.True(m.TryOpenStream(bidirectional: true, out ulong fifth));
        Assert.Equal(16UL, fifth);
    }

    [Fact]
    public void Write_AppliesBackpressure_AndRaisesWritableWhenAcknowledgmentsFreeSpace()
    {
        QuicStreamManager m = NewClient(options: new QuicStreamOptions { MaxSendBufferPerStream = 1000 });
        Assert.True(m.TryOpenStream(bidirectional: false, out ulong id));
        Assert.Equal(1000, m.Write(id, new byte[1500], fin: true));
        Assert.Equal(0, m.GetWritableCapacity(id));
        Assert.Equal(0, m.Write(id, new byte[10], fin: false));
        SentFrame frame = Single(Build(m, 600).Frames, SentFrameKind.Stream);
        Assert.False(frame.Fin);
        Assert.Equal(0, m.GetWritableCapacity(id));
        Assert.False(m.TryDequeueEvent(out _));

        m.OnFrameAcknowledged(frame);
        Assert.Equal((int)frame.Length, m.GetWritableCapacity(id));
        Assert.True(m.TryDequeueEvent(out QuicStreamEvent writable));
        Assert.Equal((QuicStreamEventKind.Writable, id), (writable.Kind, writable.StreamId));
        Assert.Equal(500, m.Write(id, new byte[500], fin: true));
        Assert.Equal(0, m.GetWritableCapacity(id));
    }

    [Fact]
    public void Options_RejectInvalidValues()
    {
        var options = new QuicStreamOptions();
        Assert.Throws<ArgumentOutOfRangeException>(() => options.MaxSendBufferPerStream = 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.InitialStreamReceiveWindow = 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.InitialStreamReceiveWindow = options.MaxStreamReceiveWindow + 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.MaxStreamReceiveWindow = options.InitialStreamReceiveWindow - 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.MaxStreamReceiveWindow = QuicStreamOptions.MaxWindowLimit + 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.InitialConnectionReceiveWindow = options.MaxConnectionReceiveWindow + 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.MaxConnectionReceiveWindow = options.InitialConnectionReceiveWindow - 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.MaxConcurrentBidiStreams = (1UL << 20) + 1);
        options.MaxConcurrentUniStreams = 0;
        Assert.Equal(0UL, options.MaxConcurrentUniStreams);

        var parameters = new QuicTransportParameters();
        new QuicStreamManager(isServer: true, new QuicStreamOptions { MaxConcurrentBidiStreams = 7 }).FillLocalTransportParameters(parameters);
        Assert.Equal(7UL, parameters.InitialMaxStreamsBidi);
        Assert.Equal(new QuicStreamOptions().InitialStreamReceiveWindow, parameters.InitialMaxStreamDataUni);
    }
}
