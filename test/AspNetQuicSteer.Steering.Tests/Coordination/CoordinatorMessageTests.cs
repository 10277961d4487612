using AspNetQuicSteer.Steering.Coordination;

namespace AspNetQuicSteer.Steering.Tests.Coordination;

public sealed class CoordinatorMessageTests
{
    private static readonly GenerationCounters SomeCounters = new(3, 1_000_000_007, 42, ulong.MaxValue);

    /// <summary>One instance of every message type, including boundary values (255, none, empty and multi-byte text).</summary>
    internal static CoordinatorMessage[] Samples() =>
    [
        new JoinMessage(1234, null, "shop", [], CoordinatorCapabilities.Forwarding | CoordinatorCapabilities.ReuseportCbpf),
        new JoinMessage(int.MaxValue, new GenerationId(255), new string('a', 255), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20], (CoordinatorCapabilities)0xFFFF_FFFF, GenerationState.Active),
        new JoinMessage(1, new GenerationId(7), "café-ü", [0xAB], CoordinatorCapabilities.None, GenerationState.Draining),
        new JoinAcceptedMessage(new GenerationId(2), new GenerationId(1), 1),
        new JoinAcceptedMessage(new GenerationId(1), null, 1),
        new ReadyMessage(new GenerationId(9)),
        new ActivateMessage(new GenerationId(255)),
        new DrainMessage(new GenerationId(1)),
        new ExitedMessage(new GenerationId(4), ExitKind.Clean, SomeCounters, "drained"),
        new ExitedMessage(new GenerationId(5), ExitKind.Dead, default, string.Empty),
        new RollbackMessage(new GenerationId(1), new GenerationId(2)),
        new RollbackMessage(new GenerationId(3), null),
        StatusRequestMessage.Instance,
        new StatusMessage(TimeSpan.FromMilliseconds(98_765), new GenerationId(2),
        [
            new GenerationStatus(new GenerationId(1), 100, GenerationState.Draining, TimeSpan.FromMilliseconds(5_000), SomeCounters, "shop"),
            new GenerationStatus(new GenerationId(2), 200, GenerationState.Active, TimeSpan.FromMilliseconds(5_000), default, "shop"),
            new GenerationStatus(new GenerationId(3), 300, GenerationState.Dead, TimeSpan.FromMilliseconds(90_000), new GenerationCounters(1, 2, 3, 4), "日本"),
        ]),
        new StatusMessage(TimeSpan.Zero, null, []),
        new ErrorMessage(CoordinatorErrorCode.PermissionDenied, "control socket /run/x belongs to uid 0; process of uid 65534 may not join"),
        new ErrorMessage((CoordinatorErrorCode)0xBEEF, string.Empty),
        new ReportMessage(new GenerationId(8), SomeCounters),
    ];

    public static TheoryData<int> SampleIndexes()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < Samples().Length; i++) data.Add(i);
        return data;
    }

    [Theory]
    [MemberData(nameof(SampleIndexes))]
    public void Every_message_round_trips_and_its_length_is_exact(int index)
    {
        CoordinatorMessage message = Samples()[index];
        byte[] frame = message.ToArray();

        Assert.Equal(message.GetLength(), frame.Length);
        Assert.Equal(CoordinatorMessage.HeaderLength + message.GetPayloadLength(), frame.Length);
        Assert.Equal("QSTR"u8.ToArray(), frame[..4]);
        Assert.Equal(CoordinatorMessage.ProtocolVersion, frame[4]);
        Assert.Equal((byte)message.Type, frame[5]);

        CoordinatorMessage parsed = CoordinatorMessage.Parse(frame);
        Assert.Equal(message, parsed);
        Assert.Equal(frame, parsed.ToArray());
    }

    [Theory]
    [MemberData(nameof(SampleIndexes))]
    public void Write_refuses_a_short_destination(int index)
    {
        CoordinatorMessage message = Samples()[index];
        byte[] destination = new byte[message.GetLength() - 1];
        Assert.Throws<ArgumentException>(() => message.Write(destination));
    }

    [Theory]
    [InlineData("Ready", "5153545201030000000103")]
    [InlineData("Rollback", "515354520107000000020102")]
    [InlineData("StatusRequest", "51535452010800000000")]
    [InlineData("JoinAccepted", "51535452010200000003020001")]
    [InlineData("Error", "51535452010A0000000700040003686921")]
    public void Golden_frames(string name, string hex)
    {
        CoordinatorMessage message = name switch
        {
            "Ready" => new ReadyMessage(new GenerationId(3)),
            "Rollback" => new RollbackMessage(new GenerationId(1), new GenerationId(2)),
            "StatusRequest" => StatusRequestMessage.Instance,
            "JoinAccepted" => new JoinAcceptedMessage(new GenerationId(2), null, 1),
            "Error" => new ErrorMessage(CoordinatorErrorCode.PermissionDenied, "hi!"),
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };
        Assert.Equal(hex.ToUpperInvariant(), Convert.ToHexString(message.ToArray()));
        Assert.Equal(message, CoordinatorMessage.Parse(Convert.FromHexString(hex)));
    }

    [Fact]
    public void Join_golden_frame()
    {
        var join = new JoinMessage(0x01020304, null, "ab", [0xCC], CoordinatorCapabilities.Forwarding, null);
        // pid | requested 0 | resume 0 | capabilities 1 | cibir 1 byte CC | app "ab"
        Assert.Equal("5153545201010000000F" + "01020304" + "00" + "00" + "00000001" + "01CC" + "026162", Convert.ToHexString(join.ToArray()));
    }

    [Theory]
    [InlineData("", "shorter than the 10-byte header")]
    [InlineData("515354520103000000", "shorter than the 10-byte header")]
    [InlineData("5153545301030000000103", "magic")]
    [InlineData("5153545201030000000203", "declares a 2-byte payload but carries 1")]
    [InlineData("515354520103000000010304", "declares a 1-byte payload but carries 2")]
    [InlineData("5153545201030000000203" + "04", "trailing bytes")]
    [InlineData("5153545201030000000100", "generation IDs are 1..255")]
    [InlineData("5153545201630000000103", "Unknown message type 99")]
    [InlineData("51535452010300000000", "payload ends inside generation")]
    [InlineData("5153545201090000000A" + "0000000000000000" + "00" + "01", "payload ends inside generation")]
    [InlineData("51535452010900000033" + "0000000000000000" + "00" + "01" + "01" + "07" + "00000001" + "0000000000000000" + "0000" + "000000000000000000000000000000000000000000000000" + "00", "state 7 is not 1..6")]
    [InlineData("51535452010A00000006" + "0004" + "0002C328", "not valid UTF-8")]
    [InlineData("51535452010A00000005" + "0004" + "000268", "payload ends inside message")]
    [InlineData("5153545201010000000C" + "00000001" + "00" + "00" + "00000000" + "15" + "00", "CIBIR ID length 21 exceeds 20")]
    [InlineData("5153545201010000000C" + "00000001" + "00" + "03" + "00000000" + "00" + "00", "a resuming join must name its generation")]
    [InlineData("5153545201010000000C" + "00000001" + "05" + "05" + "00000000" + "00" + "00", "resume state 5")]
    [InlineData("5153545201010000000C" + "80000000" + "00" + "00" + "00000000" + "00" + "00", "pid 2147483648 is out of range")]
    [InlineData("5153545201060000001E" + "01" + "02" + "0000" + "0000000000000000" + "0000000000000000" + "0000000000000000" + "0000", "exit kind 2")]
    public void Malformed_frames_throw_the_typed_exception(string hex, string expected)
    {
        var e = Assert.Throws<CoordinatorProtocolException>(() => CoordinatorMessage.Parse(Convert.FromHexString(hex)));
        Assert.Equal(CoordinatorErrorCode.MalformedFrame, e.ErrorCode);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(255)]
    public void A_foreign_version_is_UnsupportedVersion(byte version)
    {
        byte[] frame = new ReadyMessage(new GenerationId(1)).ToArray();
        frame[4] = version;
        var e = Assert.Throws<CoordinatorProtocolException>(() => CoordinatorMessage.Parse(frame));
        Assert.Equal(CoordinatorErrorCode.UnsupportedVersion, e.ErrorCode);
        Assert.Contains($"version {version}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_payload_over_the_limit_is_refused_before_it_is_read()
    {
        byte[] frame = new byte[CoordinatorMessage.HeaderLength];
        new ReadyMessage(new GenerationId(1)).ToArray().AsSpan(0, 6).CopyTo(frame);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(6), CoordinatorMessage.MaxPayloadLength + 1);
        Assert.Throws<CoordinatorProtocolException>(() => CoordinatorMessage.Parse(frame));
    }

    [Fact]
    public void Long_texts_are_cut_at_a_character_boundary_and_app_names_over_255_bytes_are_refused()
    {
        var error = new ErrorMessage(CoordinatorErrorCode.InternalError, new string('é', 1000)); // 2000 UTF-8 bytes
        Assert.Equal(512, error.Message.Length);
        Assert.Equal(error, CoordinatorMessage.Parse(error.ToArray()));

        var exited = new ExitedMessage(new GenerationId(1), ExitKind.Clean, default, "x" + string.Concat(Enumerable.Repeat("😀", 600)));
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(exited.Reason) <= CoordinatorText.MaxTextBytes);
        Assert.False(char.IsHighSurrogate(exited.Reason[^1]));
        Assert.Equal(exited, CoordinatorMessage.Parse(exited.ToArray()));

        var join = new JoinMessage(1, null, new string('ü', 128), [], CoordinatorCapabilities.None); // 256 bytes
        Assert.Throws<ArgumentException>(() => join.ToArray());
    }

    [Fact]
    public void Generation_zero_cannot_be_written_where_a_generation_is_required()
        => Assert.Throws<ArgumentException>(() => new ActivateMessage(new GenerationId(0)).ToArray());

    [Fact]
    public void Status_table_formats_for_humans()
    {
        var status = (StatusMessage)Samples()[13];
        string table = status.FormatTable();
        Assert.Contains("active gen2", table, StringComparison.Ordinal);
        Assert.Contains("gen3", table, StringComparison.Ordinal);
        Assert.Contains("Dead", table, StringComparison.Ordinal);
        Assert.Equal(GenerationState.Active, status.Find(new GenerationId(2))?.State);
        Assert.Null(status.Find(new GenerationId(9)));
    }
}
