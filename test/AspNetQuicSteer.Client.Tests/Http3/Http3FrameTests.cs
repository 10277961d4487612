using System.Buffers;
using AspNetQuicSteer.Client.Http3;

namespace AspNetQuicSteer.Client.Tests.Http3;

public sealed class Http3FrameTests
{
    [Theory]
    [InlineData(0x0UL, 0L, "0000")]
    [InlineData(0x1UL, 63L, "013f")]
    [InlineData(0x4UL, 64L, "044040")]
    [InlineData(0x21UL, 16384L, "21" + "80004000")]
    [InlineData(0x3fffffffffffffffUL, 0x3fffffffffffffffL, "ffffffffffffffff" + "ffffffffffffffff")]
    public void FrameHeader_RoundTripsThroughSpanAndSequence(ulong type, long length, string hex)
    {
        byte[] expected = Convert.FromHexString(hex);
        var buffer = new byte[Http3FrameHeader.GetLength(type, length)];
        Assert.Equal(expected.Length, Http3FrameHeader.Write(buffer, type, length));
        Assert.Equal(expected, buffer);

        Assert.True(Http3FrameHeader.TryRead(buffer, out ulong spanType, out long spanLength, out int headerLength));
        Assert.Equal((type, length, expected.Length), (spanType, spanLength, headerLength));

        // Every split point, so varints straddling segments are read too.
        for (int cut = 1; cut < expected.Length; cut++)
        {
            var reader = new SequenceReader<byte>(TestSegment.Split([.. expected, 0xaa], cut));
            Assert.True(Http3FrameHeader.TryRead(ref reader, out ulong readType, out long readLength));
            Assert.Equal((type, length), (readType, readLength));
            Assert.Equal(expected.Length, reader.Consumed);
        }
    }

    [Fact]
    public void FrameHeader_IncompleteConsumesNothing()
    {
        byte[] header = Convert.FromHexString("4001" + "80004000");
        for (int available = 0; available < header.Length; available++)
        {
            byte[] partial = header[..available];
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(partial));
            Assert.False(Http3FrameHeader.TryRead(ref reader, out _, out _));
            Assert.Equal(0, reader.Consumed);
            Assert.False(Http3FrameHeader.TryRead(partial, out _, out _, out _));
        }
    }

    [Fact]
    public void DataAndHeadersFrames_WriteOnlyTheHeader()
    {
        Span<byte> buffer = stackalloc byte[Http3FrameHeader.MaxLength];
        Assert.Equal(3, DataFrame.Write(buffer, 1000));
        Assert.Equal(Convert.FromHexString("0043e8"), buffer[..3].ToArray());
        Assert.Equal(3, DataFrame.GetLength(1000));
        Assert.Equal(2, HeadersFrame.Write(buffer, 10));
        Assert.Equal(Convert.FromHexString("010a"), buffer[..2].ToArray());
        Assert.Equal(2, HeadersFrame.GetLength(10));
    }

    // RFC 9114 §7.2.8: 0x1f * N + 0x21 are reserved (greasing) types.
    [Theory]
    [InlineData(0x21UL, true)]
    [InlineData(0x40UL, true)]
    [InlineData(0x5fUL, true)]
    [InlineData((0x1fUL * 1_000_000_007) + 0x21, true)]
    [InlineData(0x20UL, false)]
    [InlineData(0x22UL, false)]
    [InlineData(0x0UL, false)]
    [InlineData(0x7UL, false)]
    public void ReservedFrameAndStreamTypes(ulong type, bool reserved)
    {
        Assert.Equal(reserved, Http3FrameType.IsReserved(type));
        Assert.Equal(reserved, Http3StreamType.IsReserved(type)); // RFC 9114 §6.2.3: the same pattern
    }

    // RFC 9114 §7.2.8: HTTP/2's PRIORITY, PING, WINDOW_UPDATE and CONTINUATION are H3_FRAME_UNEXPECTED.
    [Fact]
    public void Http2OnlyFrameTypes()
    {
        Assert.Equal([0x2UL, 0x6, 0x8, 0x9], Http3FrameType.Http2Only.ToArray());
        for (ulong type = 0; type < 0x40; type++)
        {
            Assert.Equal(Http3FrameType.Http2Only.Contains(type), Http3FrameType.IsHttp2Only(type));
        }
    }

    [Fact]
    public void Settings_RoundTrip_KeepsUnknownAndReservedIdentifiers()
    {
        (ulong, ulong)[] settings =
        [
            (SettingsFrame.QpackMaxTableCapacity, 0),
            (SettingsFrame.QpackBlockedStreams, 0),
            (SettingsFrame.MaxFieldSectionSize, 16384),
            (0x21 + (0x1f * 3), 0x3fffffffffffffff), // RFC 9114 §7.2.4.1: greasing identifier, ignored but kept
            (0x1234, 7), // RFC 9114 §7.2.4: unknown identifier, ignored but kept
        ];
        var buffer = new byte[SettingsFrame.GetLength(settings)];
        Assert.Equal(buffer.Length, SettingsFrame.Write(buffer, settings));
        Assert.Equal(Convert.FromHexString("0416" + "0100" + "0700" + "06" + "80004000"), buffer[..11]);

        Assert.True(Http3FrameHeader.TryRead(buffer, out ulong type, out long length, out int headerLength));
        Assert.Equal(Http3FrameType.Settings, type);
        Assert.Equal(buffer.Length - headerLength, length);
        List<(ulong Id, ulong Value)> parsed = SettingsFrame.Parse(buffer.AsSpan(headerLength));
        Assert.Equal(settings, parsed);
        Assert.True(SettingsFrame.TryGetValue(parsed, SettingsFrame.MaxFieldSectionSize, out ulong max));
        Assert.Equal(16384UL, max);
        Assert.False(SettingsFrame.TryGetValue(parsed, SettingsFrame.H3Datagram, out _));
        Assert.Empty(SettingsFrame.Parse([]));
    }

    // RFC 9114 §7.2.4: a repeated identifier MAY be H3_SETTINGS_ERROR; we always treat it so.
    [Theory]
    [InlineData("0100" + "0100")]
    [InlineData("0601" + "0100" + "0602")]
    public void Settings_DuplicateIdentifier_IsSettingsError(string hex)
        => AssertViolation(Http3ErrorCode.SettingsError, () => SettingsFrame.Parse(Convert.FromHexString(hex)));

    // The duplicate check switches to a set past 16 parameters; it must still catch repeats.
    [Fact]
    public void Settings_DuplicateAmongManyIdentifiers_IsSettingsError()
    {
        var payload = new List<byte>();
        for (int id = 0x10; id < 0x30; id++)
        {
            payload.AddRange([(byte)id, 0x00]);
        }

        Assert.Equal(32, SettingsFrame.Parse([.. payload]).Count);
        payload.AddRange([0x10, 0x01]);
        AssertViolation(Http3ErrorCode.SettingsError, () => SettingsFrame.Parse([.. payload]));
    }

    // RFC 9114 §7.2.4.1 and §11.2.2: HTTP/2's ENABLE_PUSH (0x2) ... MAX_FRAME_SIZE (0x5) are H3_SETTINGS_ERROR.
    [Theory]
    [InlineData(0x2)]
    [InlineData(0x3)]
    [InlineData(0x4)]
    [InlineData(0x5)]
    public void Settings_Http2Identifier_IsSettingsError(byte id)
        => AssertViolation(Http3ErrorCode.SettingsError, () => SettingsFrame.Parse([0x06, 0x10, id, 0x00]));

    // RFC 9114 §7.1: a payload ending inside a field is H3_FRAME_ERROR.
    [Theory]
    [InlineData("01")]          // identifier without value
    [InlineData("0140")]        // value's 2-byte varint cut short
    [InlineData("4001")]        // identifier only
    [InlineData("01008000")]    // second identifier cut short
    public void Settings_Truncated_IsFrameError(string hex)
        => AssertViolation(Http3ErrorCode.FrameError, () => SettingsFrame.Parse(Convert.FromHexString(hex)));

    [Fact]
    public void SingleVarIntFrames_RoundTrip()
    {
        foreach (ulong id in (ulong[])[0, 4, 63, 64, 16383, 16384, 0x3fffffffffffffff])
        {
            var buffer = new byte[GoAwayFrame.GetLength(id)];
            Assert.Equal(buffer.Length, GoAwayFrame.Write(buffer, id));
            Assert.Equal(id, GoAwayFrame.Parse(Payload(buffer, Http3FrameType.GoAway)));

            buffer = new byte[CancelPushFrame.GetLength(id)];
            Assert.Equal(buffer.Length, CancelPushFrame.Write(buffer, id));
            Assert.Equal(id, CancelPushFrame.Parse(Payload(buffer, Http3FrameType.CancelPush)));

            buffer = new byte[MaxPushIdFrame.GetLength(id)];
            Assert.Equal(buffer.Length, MaxPushIdFrame.Write(buffer, id));
            Assert.Equal(id, MaxPushIdFrame.Parse(Payload(buffer, Http3FrameType.MaxPushId)));
        }

        Assert.Equal(Convert.FromHexString("070108"), WriteGoAway(8));
    }

    // RFC 9114 §7.1: bytes after the identified fields, or a payload ending before them, are H3_FRAME_ERROR.
    [Theory]
    [InlineData("0400")]   // trailing byte
    [InlineData("4004ff")] // trailing byte after a 2-byte varint
    [InlineData("")]       // no ID at all
    [InlineData("40")]     // ID cut short
    public void SingleVarIntFrames_PayloadMustBeExactlyOneVarInt(string hex)
    {
        byte[] payload = Convert.FromHexString(hex);
        AssertViolation(Http3ErrorCode.FrameError, () => GoAwayFrame.Parse(payload));
        AssertViolation(Http3ErrorCode.FrameError, () => CancelPushFrame.Parse(payload));
        AssertViolation(Http3ErrorCode.FrameError, () => MaxPushIdFrame.Parse(payload));
    }

    [Fact]
    public void PushPromise_RoundTrip_AndTruncatedPushIdIsFrameError()
    {
        byte[] section = Convert.FromHexString("0000d1");
        var buffer = new byte[PushPromiseFrame.GetLength(300, section.Length)];
        Assert.Equal(buffer.Length, PushPromiseFrame.Write(buffer, 300, section));
        Assert.Equal(Convert.FromHexString("0505412c0000d1"), buffer);
        ReadOnlySpan<byte> parsed = PushPromiseFrame.Parse(Payload(buffer, Http3FrameType.PushPromise), out ulong pushId);
        Assert.Equal(300UL, pushId);
        Assert.Equal(section, parsed.ToArray());

        // RFC 9114 §7.1: the push ID is a required field.
        AssertViolation(Http3ErrorCode.FrameError, () => PushPromiseFrame.Parse([0x41], out _));
    }

    [Fact]
    public void Writers_RejectShortDestinations()
    {
        Assert.Throws<ArgumentException>(() => GoAwayFrame.Write(new byte[2], 64));
        Assert.Throws<ArgumentException>(() => SettingsFrame.Write(new byte[3], [(1, 0), (7, 0)]));
        Assert.Throws<ArgumentException>(() => PushPromiseFrame.Write(new byte[4], 1, [1, 2, 3]));
    }

    internal static void AssertViolation(Http3ErrorCode expected, Action action)
    {
        Http3ProtocolViolationException e = Assert.Throws<Http3ProtocolViolationException>(action);
        Assert.Equal(expected, e.ErrorCode);
    }

    private static byte[] WriteGoAway(ulong id)
    {
        var buffer = new byte[GoAwayFrame.GetLength(id)];
        GoAwayFrame.Write(buffer, id);
        return buffer;
    }

    private static byte[] Payload(byte[] frame, ulong expectedType)
    {
        Assert.True(Http3FrameHeader.TryRead(frame, out ulong type, out long length, out int headerLength));
        Assert.Equal(expectedType, type);
        Assert.Equal(frame.Length - headerLength, length);
        return frame[headerLength..];
    }
}
