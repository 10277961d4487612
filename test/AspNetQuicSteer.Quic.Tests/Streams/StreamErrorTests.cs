using AspNetQuicSteer.Quic.Frames;
using AspNetQuicSteer.Quic.Streams;
using AspNetQuicSteer.Quic.TransportParameters;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Tests.Streams;

/// <summary>
/// Peer faults in received stream frames and the transport error each maps to. Stream IDs seen from a
/// server: 0/4/8 client bidi, 2/6 client uni (receive-only), 1/5 server bidi, 3/7 server uni (send-only).
/// </summary>
public sealed class StreamErrorTests
{
    internal static QuicStreamManager NewServer(QuicStreamOptions? options = null)
    {
        var manager = new QuicStreamManager(isServer: true, options ?? new QuicStreamOptions());
        manager.ApplyPeerTransportParameters(new QuicTransportParameters
        {
            InitialMaxData = 1 << 20,
            InitialMaxStreamDataBidiLocal = 1 << 16,
            InitialMaxStreamDataBidiRemote = 1 << 16,
            InitialMaxStreamDataUni = 1 << 16,
            InitialMaxStreamsBidi = 10,
            InitialMaxStreamsUni = 10,
        });
        return manager;
    }

    private static void AssertError(TransportErrorCode expected, ulong frameType, Action action)
    {
        QuicProtocolException ex = Assert.Throws<QuicProtocolException>(action);
        Assert.Equal(expected, ex.ErrorCode);
        Assert.Equal(frameType, ex.FrameType);
    }

    private static void Stream(QuicStreamManager m, ulong id, ulong offset, int length, bool fin = false)
        => m.OnStreamFrame(new StreamFrame(id, offset, new byte[length], fin));

    private static ulong StreamType(ulong offset, bool fin) => 0x0a | (offset != 0 ? 0x04UL : 0) | (fin ? 0x01UL : 0);

    [Fact]
    public void Stream_OnOurUnidirectionalStream_IsStreamStateError()
    {
        // RFC 9000 §19.8: STREAM for a send-only stream.
        QuicStreamManager m = NewServer();
        Assert.True(m.TryOpenStream(bidirectional: false, out ulong id));
        Assert.Equal(3UL, id);
        AssertError(TransportErrorCode.StreamStateError, StreamType(0, false), () => Stream(m, 3, 0, 5));
    }

    [Fact]
    public void Stream_OnOurStreamNotYetOpened_IsStreamStateError()
    {
        // RFC 9000 §19.8: STREAM for a locally initiated stream that has not yet been created.
        QuicStreamManager m = NewServer();
        AssertError(TransportErrorCode.StreamStateError, StreamType(0, false), () => Stream(m, 1, 0, 5));
        Assert.True(m.TryOpenStream(bidirectional: true, out ulong id));
        Stream(m, id, 0, 5);
        AssertError(TransportErrorCode.StreamStateError, StreamType(0, false), () => Stream(m, 5, 0, 5));
    }

    [Fact]
    public void ResetStream_OnSendOnlyStream_IsStreamStateError()
    {
        // RFC 9000 §19.4: RESET_STREAM for a send-only stream.
        QuicStreamManager m = NewServer();
        Assert.True(m.TryOpenStream(bidirectional: false, out ulong id));
        AssertError(TransportErrorCode.StreamStateError, 0x04, () => m.OnResetStreamFrame(new ResetStreamFrame(id, 1, 0)));
    }

    [Fact]
    public void StopSending_OnReceiveOnlyOrUnopenedStream_IsStreamStateError()
    {
        // RFC 9000 §19.5: STOP_SENDING for a receive-only stream, or a local stream not yet created.
        QuicStreamManager m = NewServer();
        AssertError(TransportErrorCode.StreamStateError, 0x05, () => m.OnStopSendingFrame(new StopSendingFrame(2, 1)));
        AssertError(TransportErrorCode.StreamStateError, 0x05, () => m.OnStopSendingFrame(new StopSendingFrame(5, 1)));
    }

    [Fact]
    public void MaxStreamData_OnReceiveOnlyOrUnopenedStream_IsStreamStateError()
    {
        // RFC 9000 §19.10: MAX_STREAM_DATA for a receive-only stream, or a local stream not yet created.
        QuicStreamManager m = NewServer();
        AssertError(TransportErrorCode.StreamStateError, 0x11, () => m.OnMaxStreamDataFrame(new MaxStreamDataFrame(6, 100)));
        AssertError(TransportErrorCode.StreamStateError, 0x11, () => m.OnMaxStreamDataFrame(new MaxStreamDataFrame(1, 100)));
    }

    [Fact]
    public void StreamDataBlocked_OnSendOnlyStream_IsStreamStateError()
    {
        // RFC 9000 §19.13: STREAM_DATA_BLOCKED for a send-only stream.
        QuicStreamManager m = NewServer();
        Assert.True(m.TryOpenStream(bidirectional: false, out ulong id));
        AssertError(TransportErrorCode.StreamStateError, 0x15, () => m.OnStreamDataBlockedFrame(new StreamDataBlockedFrame(id, 0)));
    }

    [Fact]
    public void PeerStreamBeyondOurLimit_IsStreamLimitError()
    {
        // RFC 9000 §4.6: a stream ID beyond the limit we sent.
        QuicStreamManager m = NewServer(new QuicStreamOptions { MaxConcurrentBidiStreams = 4, MaxConcurrentUniStreams = 1 });
        Stream(m, StreamId.FromIndex(3, false, false), 0, 1);
        AssertError(TransportErrorCode.StreamLimitError, StreamType(0, false), () => Stream(m, StreamId.FromIndex(4, false, false), 0, 1));
        m.OnResetStreamFrame(new ResetStreamFrame(2, 0, 0));
        AssertError(TransportErrorCode.StreamLimitError, 0x04, () => m.OnResetStreamFrame(new ResetStreamFrame(6, 0, 0)));
        AssertError(TransportErrorCode.StreamLimitError, 0x05, () => m.OnStopSendingFrame(new StopSendingFrame(16, 0)));
    }

    [Fact]
    public void PeerStreamsAreOpenedImplicitlyInOrder()
    {
        // RFC 9000 §3.2: a frame for stream N opens the lower-numbered streams of its type too.
        QuicStreamManager m = NewServer();
        Stream(m, 8, 0, 3);
        var opened = new List<ulong>();
        while (m.TryDequeueEvent(out QuicStreamEvent e))
        {
            if (e.Kind == QuicStreamEventKind.PeerOpened)
            {
                opened.Add(e.StreamId);
            }
        }

        Assert.Equal([0UL, 4UL, 8UL], opened);
        Assert.True(m.TryAcceptStream(out ulong first));
        Assert.True(m.TryAcceptStream(out ulong second));
        Assert.True(m.TryAcceptStream(out ulong third));
        Assert.False(m.TryAcceptStream(out _));
        Assert.Equal([0UL, 4UL, 8UL], [first, second, third]);

        // RFC 9000 §3.2: MAX_STREAM_DATA or STOP_SENDING for a peer bidirectional stream also opens it.
        m.OnMaxStreamDataFrame(new MaxStreamDataFrame(12, 5000));
        m.OnStopSendingFrame(new StopSendingFrame(16, 9));
        Assert.True(m.IsStreamActive(12));
        Assert.True(m.TryGetPeerStopSendingCode(16, out ulong code));
        Assert.Equal(9UL, code);
    }

    [Fact]
    public void StreamData_BeyondStreamLimit_IsFlowControlError()
    {
        // RFC 9000 §4.1: data beyond the MAX_STREAM_DATA we advertised.
        QuicStreamManager m = NewServer(new QuicStreamOptions { InitialStreamReceiveWindow = 1000 });
        Stream(m, 0, 900, 100);
        AssertError(TransportErrorCode.FlowControlError, StreamType(900, false), () => Stream(m, 0, 900, 101));
    }

    [Fact]
    public void StreamData_BeyondConnectionLimit_IsFlowControlError()
    {
        // RFC 9000 §4.1: the connection limit counts the highest offset of every stream.
        QuicStreamManager m = NewServer(new QuicStreamOptions { InitialStreamReceiveWindow = 1000, InitialConnectionReceiveWindow = 1500 });
        Stream(m, 0, 999, 1);
        Stream(m, 0, 0, 1000);
        Stream(m, 4, 0, 500);
        AssertError(TransportErrorCode.FlowControlError, StreamType(500, false), () => Stream(m, 4, 500, 1));
        Assert.Equal(1500UL, m.ReceivedData);
    }

    [Fact]
    public void ResetStream_FinalSizeBeyondLimits_IsFlowControlError()
    {
        // RFC 9000 §4.5: the final size of a reset counts against flow control (§4.1).
        QuicStreamManager m = NewServer(new QuicStreamOptions { InitialStreamReceiveWindow = 1000, InitialConnectionReceiveWindow = 1500 });
        AssertError(TransportErrorCode.FlowControlError, 0x04, () => m.OnResetStreamFrame(new ResetStreamFrame(0, 1, 1001)));
        m.OnResetStreamFrame(new ResetStreamFrame(4, 1, 1000));
        AssertError(TransportErrorCode.FlowControlError, 0x04, () => m.OnResetStreamFrame(new ResetStreamFrame(8, 1, 501)));
    }

    [Fact]
    public void Stream_DataBeyondFinalSize_IsFinalSizeError()
    {
        // RFC 9000 §4.5: no data at or beyond the final size.
        QuicStreamManager m = NewServer();
        Stream(m, 0, 0, 10, fin: true);
        Stream(m, 0, 5, 5, fin: true);
        AssertError(TransportErrorCode.FinalSizeError, StreamType(5, false), () => Stream(m, 0, 5, 6));
    }

    [Fact]
    public void Stream_FinChangingFinalSize_IsFinalSizeError()
    {
        // RFC 9000 §4.5: once known, the final size cannot change.
        QuicStreamManager m = NewServer();
        Stream(m, 0, 0, 10, fin: true);
        AssertError(TransportErrorCode.FinalSizeError, StreamType(0, true), () => Stream(m, 0, 0, 8, fin: true));
    }

    [Fact]
    public void Stream_FinBelowReceivedData_IsFinalSizeError()
    {
        // RFC 9000 §4.5: a final size below data already received.
        QuicStreamManager m = NewServer();
        Stream(m, 0, 10, 10);
        AssertError(TransportErrorCode.FinalSizeError, StreamType(0, true), () => Stream(m, 0, 0, 15, fin: true));
    }

    [Fact]
    public void ResetStream_FinalSizeConflicts_AreFinalSizeErrors()
    {
        // RFC 9000 §4.5: RESET_STREAM may not change a known final size nor go below received data.
        QuicStreamManager m = NewServer();
        Stream(m, 0, 0, 10, fin: true);
        AssertError(TransportErrorCode.FinalSizeError, 0x04, () => m.OnResetStreamFrame(new ResetStreamFrame(0, 1, 12)));
        Stream(m, 4, 0, 20);
        AssertError(TransportErrorCode.FinalSizeError, 0x04, () => m.OnResetStreamFrame(new ResetStreamFrame(4, 1, 15)));
        m.OnResetStreamFrame(new ResetStreamFrame(8, 1, 30));
        AssertError(TransportErrorCode.FinalSizeError, StreamType(25, false), () => Stream(m, 8, 25, 6));
        Stream(m, 8, 25, 5);
    }

    [Fact]
    public void MaxStreamsAndStreamsBlocked_Above2Pow60_AreFrameEncodingErrors()
    {
        // RFC 9000 §19.11 and §19.14: stream counts above 2^60 cannot be valid.
        byte[] encoded = new byte[8];
        var writer = new QuicWriter(encoded);
        writer.WriteVarInt(StreamId.MaxStreamCount + 1);
        foreach (ulong type in new ulong[] { 0x12, 0x13 })
        {
            QuicProtocolException ex = Assert.Throws<QuicProtocolException>(() =>
            {
                var reader = new QuicReader(encoded);
                _ = MaxStreamsFrame.Parse(ref reader, type);
            });
            Assert.Equal(TransportErrorCode.FrameEncodingError, ex.ErrorCode);
        }

        foreach (ulong type in new ulong[] { 0x16, 0x17 })
        {
            QuicProtocolException ex = Assert.Throws<QuicProtocolException>(() =>
            {
                var reader = new QuicReader(encoded);
                _ = StreamsBlockedFrame.Parse(ref reader, type);
            });
            Assert.Equal(TransportErrorCode.FrameEncodingError, ex.ErrorCode);
        }
    }

    [Fact]
    public void FramesForReleasedStreams_AreIgnored()
    {
        QuicStreamManager m = NewServer();
        Stream(m, 2, 0, 4, fin: true);
        Assert.True(m.TryAcceptStream(out ulong id));
        Assert.Equal(4, m.Read(id, new byte[10], out bool fin));
        Assert.True(fin);
        Assert.False(m.IsStreamActive(2));

        // A late duplicate (even one that would now break the final size) of a forgotten stream is dropped.
        Stream(m, 2, 0, 4, fin: true);
        m.OnResetStreamFrame(new ResetStreamFrame(2, 0, 4));
        Assert.False(m.IsStreamActive(2));
        Assert.False(m.TryAcceptStream(out _));
        Assert.Equal(0, m.Read(2, new byte[10], out fin));
        Assert.True(fin);
    }

    [Fact]
    public void AppMisuse_ThrowsInvalidOperation_NotProtocolErrors()
    {
        QuicStreamManager m = NewServer();
        Assert.Throws<InvalidOperationException>(() => m.Write(1, [1], fin: false));
        Stream(m, 2, 0, 1);
        Assert.Throws<InvalidOperationException>(() => m.Write(2, [1], fin: false));
        Assert.True(m.TryOpenStream(bidirectional: false, out ulong uni));
        Assert.Throws<InvalidOperationException>(() => m.Read(uni, new byte[1], out _));
        Assert.Equal(1, m.Write(uni, [1], fin: true));
        Assert.Throws<InvalidOperationException>(() => m.Write(uni, [1], fin: false));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.ResetStream(uni, 1UL << 62));
    }
}
