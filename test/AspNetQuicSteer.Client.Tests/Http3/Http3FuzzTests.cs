using System.Buffers;
using AspNetQuicSteer.Client.Http3;
using AspNetQuicSteer.Quic.Tests.Packets;
using CsCheck;

namespace AspNetQuicSteer.Client.Tests.Http3;

/// <summary>
/// Peer bytes into every HTTP/3 and QPACK parser: each either succeeds or throws
/// <see cref="Http3ProtocolViolationException"/>; any other exception (index, overflow, argument) is a bug.
/// Iterations are sized so the whole class stays around two seconds (most samples throw, and throwing is the cost).
/// </summary>
public sealed class Http3FuzzTests
{
    private static readonly byte[][] FieldSectionSeeds = BuildFieldSectionSeeds();
    private static readonly byte[][] FrameSeeds = BuildFrameSeeds();

    private static readonly byte[][] EncoderStreamSeeds =
    [
        [0x20, 0x20],
        Convert.FromHexString("3fbd01c00f7777772e6578616d706c652e636f6d"), // RFC 9204 Appendix B.2
        Convert.FromHexString("4a637573746f6d2d6b65790c637573746f6d2d76616c7565"), // Appendix B.3
    ];

    private static readonly byte[][] DecoderStreamSeeds =
    [
        Convert.FromHexString("48" + "7f01" + "7fffff03"),
        Convert.FromHexString("84" + "01" + "44"), // Appendix B.2-B.4
    ];

    [Fact]
    public void RandomBytesIntoEveryParser() => Gen.Byte.Array[0, 48].Sample(IntoEveryParser, iter: 6_000);

    [Fact]
    public void MutatedFieldSections() => Mutations.Of(FieldSectionSeeds).Sample(section =>
    {
        Expect(() => QpackDecoder.Decode(section, NullFieldHandler.Instance, int.MaxValue));
        Expect(() => QpackDecoder.Decode(section, NullFieldHandler.Instance, 60));
    }, iter: 10_000);

    [Fact]
    public void MutatedFrames() => Mutations.Of(FrameSeeds).Sample(IntoFrameParsers, iter: 6_000);

    [Fact]
    public void MutatedEncoderAndDecoderStreams()
    {
        Mutations.Of(EncoderStreamSeeds).Sample(data => Expect(() => new QpackEncoderStreamReader().Consume(data)), iter: 5_000);
        Mutations.Of(DecoderStreamSeeds).Sample(data =>
        {
            int consumed = 0;
            Expect(() => consumed = new QpackDecoderStreamReader().Consume(data));
            Assert.InRange(consumed, 0, data.Length);
        }, iter: 5_000);
    }

    [Fact]
    public void RandomHuffmanStrings() => Gen.Byte.Array[0, 32].Sample(encoded =>
    {
        int written = 0;
        Expect(() => written = HuffmanCodec.Decode(encoded, new byte[HuffmanCodec.GetMaxDecodedLength(encoded.Length)]));
        Expect(() => HuffmanCodec.Decode(encoded, new byte[encoded.Length / 2]));
        Assert.InRange(written, 0, HuffmanCodec.GetMaxDecodedLength(encoded.Length));
    }, iter: 10_000);

    private static void IntoEveryParser(byte[] data)
    {
        IntoFrameParsers(data);
        Expect(() => QpackDecoder.Decode(data, NullFieldHandler.Instance, int.MaxValue));
        Expect(() => QpackDecoder.Decode([0, 0, .. data], NullFieldHandler.Instance, 100));
        Expect(() => new QpackEncoderStreamReader().Consume(data));
        Expect(() => new QpackDecoderStreamReader().Consume(data));
        for (int prefixBits = 1; prefixBits <= 8; prefixBits++)
        {
            int bits = prefixBits;
            Expect(() => QpackInteger.TryDecode(data, bits, out _, out _));
        }
    }

    private static void IntoFrameParsers(byte[] data)
    {
        if (Http3FrameHeader.TryRead(data, out _, out long length, out int headerLength))
        {
            Assert.InRange(headerLength, 2, Http3FrameHeader.MaxLength);
            Assert.InRange(length, 0, (1L << 62) - 1);

            var reader = new SequenceReader<byte>(TestSegment.Split(data, headerLength / 2));
            Assert.True(Http3FrameHeader.TryRead(ref reader, out _, out long sequenceLength));
            Assert.Equal((length, headerLength), (sequenceLength, (int)reader.Consumed));

            byte[] payload = data[headerLength..];
            IntoPayloadParsers(payload);
        }

        IntoPayloadParsers(data);
    }

    private static void IntoPayloadParsers(byte[] payload)
    {
        Expect(() => SettingsFrame.Parse(payload));
        Expect(() => GoAwayFrame.Parse(payload));
        Expect(() => CancelPushFrame.Parse(payload));
        Expect(() => MaxPushIdFrame.Parse(payload));
        Expect(() =>
        {
            ReadOnlySpan<byte> section = PushPromiseFrame.Parse(payload, out _);
            QpackDecoder.Decode(section, NullFieldHandler.Instance, int.MaxValue);
        });
    }

    private static void Expect(Action parse)
    {
        try
        {
            parse();
        }
        catch (Http3ProtocolViolationException)
        {
        }
    }

    private static byte[][] BuildFieldSectionSeeds()
    {
        var writer = new ArrayBufferWriter<byte>();
        QpackEncoder.EncodePrefix(writer);
        QpackEncoder.Encode(writer, ":status", "200");
        QpackEncoder.Encode(writer, "content-type", "application/grpc");
        QpackEncoder.Encode(writer, "x-custom", "caf\u00e9 \u00ff");
        QpackEncoder.Encode(writer, "x-raw", "\u00fe\u00fe");
        return
        [
            writer.WrittenSpan.ToArray(),
            Convert.FromHexString("0000510b2f696e6465782e68746d6c"), // RFC 9204 Appendix B.1
            Convert.FromHexString("0381" + "10" + "11"),                // Appendix B.2 (dynamic: must fail)
            Convert.FromHexString("00" + "7fad01" + "71" + "0161" + "3161" + "0162"),
        ];
    }

    private static byte[][] BuildFrameSeeds()
    {
        var settings = new byte[SettingsFrame.GetLength([(1, 0), (7, 0), (6, 16384), (0x21, 3)])];
        SettingsFrame.Write(settings, [(1, 0), (7, 0), (6, 16384), (0x21, 3)]);
        var goAway = new byte[GoAwayFrame.GetLength(1 << 20)];
        GoAwayFrame.Write(goAway, 1 << 20);
        byte[] section = FieldSectionSeeds[0];
        var pushPromise = new byte[PushPromiseFrame.GetLength(7, section.Length)];
        PushPromiseFrame.Write(pushPromise, 7, section);
        var maxPushId = new byte[MaxPushIdFrame.GetLength(100)];
        MaxPushIdFrame.Write(maxPushId, 100);
        return [settings, goAway, pushPromise, maxPushId];
    }
}
