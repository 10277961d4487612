using System.Buffers;
using System.Text;
using AspNetQuicSteer.Client.Http3;
using CsCheck;

namespace AspNetQuicSteer.Client.Tests.Http3;

public sealed class QpackFieldSectionTests
{
    private static readonly Encoding Latin1 = Encoding.Latin1;

    // RFC 9204 Appendix B.1: Required Insert Count 0, Base 0, then :path=/index.html as a literal with a static
    // name reference (§4.5.4, index 1) and a raw value.
    [Fact]
    public void DecodesRfc9204AppendixB1()
    {
        byte[] section = Convert.FromHexString("0000510b2f696e6465782e68746d6c");
        (byte[] name, byte[] value) = Assert.Single(FieldCollector.Decode(section));
        Assert.Equal(":path", Latin1.GetString(name));
        Assert.Equal("/index.html", Latin1.GetString(value));
    }

    [Theory]
    [InlineData(":method", "GET", "d1")]                // §4.5.2 indexed, static 17
    [InlineData(":status", "200", "d9")]                // §4.5.2 indexed, static 25
    [InlineData("cache-control", "no-cache", "e7")]     // §4.5.2 indexed, static 39
    [InlineData("x-frame-options", "sameorigin", "ff23")] // §4.5.2 indexed, static 98 = 63 + 35
    [InlineData("Content-Type", "text/plain", "f5")]    // RFC 9114 §4.2: lowercased, then static 53
    [InlineData("cache-control", "private", "5f15" + "85aec3771a4b")] // §4.5.4 name ref 36, Huffman value (§4.1.2)
    [InlineData(":path", "\u00ff", "51" + "01ff")]      // §4.5.4 name ref 1; Huffman would be longer, so raw
    [InlineData("custom-key", "custom-value", "2f01" + "25a849e95ba97d7f" + "89" + "25a849e95bb8e8b4bf")] // §4.5.6
    [InlineData("x", "", "2178" + "00")]               // §4.5.6 raw name: a 1-byte name cannot get shorter
    public void EncoderPicksTheSmallestRepresentation(string name, string value, string hex)
    {
        var writer = new ArrayBufferWriter<byte>();
        QpackEncoder.Encode(writer, name, value);
        Assert.Equal(hex, Convert.ToHexStringLower(writer.WrittenSpan));

        (byte[] decodedName, byte[] decodedValue) = Assert.Single(FieldCollector.Decode([0, 0, .. writer.WrittenSpan]));
        Assert.Equal(name.ToLowerInvariant(), Latin1.GetString(decodedName));
        Assert.Equal(value, Latin1.GetString(decodedValue));
    }

    [Fact]
    public void EncoderPrefixAndShortDestinations()
    {
        var writer = new ArrayBufferWriter<byte>();
        QpackEncoder.EncodePrefix(writer);
        Assert.Equal([0, 0], writer.WrittenSpan.ToArray()); // RFC 9204 §4.5.1: RIC 0, Sign 0, Delta Base 0
        Assert.Equal(-1, QpackEncoder.WritePrefix(new byte[1]));

        // -1 means "grow and retry"; GetMaxLength is always enough.
        Assert.Equal(-1, QpackEncoder.WriteField([], ":method"u8, "GET"u8));
        Assert.Equal(-1, QpackEncoder.WriteField(new byte[3], "cache-control"u8, "private"u8));
        Assert.Equal(-1, QpackEncoder.WriteField(new byte[10], "custom-key"u8, "custom-value"u8));
        Assert.Equal(1, QpackEncoder.WriteField(new byte[QpackEncoder.GetMaxLength(7, 3)], ":method"u8, "GET"u8));
    }

    [Fact]
    public void EncoderRejectsTextWithoutAWireForm()
    {
        var writer = new ArrayBufferWriter<byte>();
        Assert.Throws<ArgumentException>(() => QpackEncoder.Encode(writer, "na\u00efve", "x"));
        Assert.Throws<ArgumentException>(() => QpackEncoder.Encode(writer, "x-name", "\u20ac"));
        QpackEncoder.Encode(writer, "x-latin1", "caf\u00e9"); // obs-text is fine
        Assert.Equal("caf\u00e9", Latin1.GetString(FieldCollector.Decode([0, 0, .. writer.WrittenSpan])[0].Value));
    }

    [Fact]
    public void LongNamesAndValuesUseRentedBuffers()
    {
        string name = "X-" + new string('A', 300);
        string value = new('v', 3000);
        var writer = new ArrayBufferWriter<byte>();
        QpackEncoder.EncodePrefix(writer);
        QpackEncoder.Encode(writer, name, value);
        QpackEncoder.Encode(writer, Encoding.ASCII.GetBytes(name), Encoding.ASCII.GetBytes(value));
        List<(byte[] Name, byte[] Value)> fields = FieldCollector.Decode(writer.WrittenSpan);
        Assert.Equal(2, fields.Count);
        Assert.All(fields, field =>
        {
            Assert.Equal(name.ToLowerInvariant(), Latin1.GetString(field.Name));
            Assert.Equal(value, Latin1.GetString(field.Value));
        });
    }

    [Theory]
    [InlineData("0100", "Required Insert Count")] // RFC 9204 §4.5.1.1: must be 0 with a table capacity of 0
    [InlineData("0080", "negative")]              // RFC 9204 §4.5.1.2: Sign 1 needs RIC > Delta Base
    [InlineData("0000" + "81", "dynamic")]        // RFC 9204 §4.5.2: indexed field line with T = 0
    [InlineData("0000" + "10", "post-Base")]      // RFC 9204 §4.5.3: indexed field line with post-Base index
    [InlineData("0000" + "4000", "dynamic")]      // RFC 9204 §4.5.4: name reference with T = 0
    [InlineData("0000" + "0000", "post-Base")]    // RFC 9204 §4.5.5: post-Base name reference
    [InlineData("0000" + "ff24", "out of range")] // RFC 9204 §3.1: static index 99
    [InlineData("0000" + "5f54" + "00", "out of range")] // RFC 9204 §3.1: static name index 15 + 84 = 99
    [InlineData("", "truncated")]
    [InlineData("00", "truncated")]
    [InlineData("0000" + "ff", "truncated")]      // index continuation missing
    [InlineData("0000" + "51", "truncated")]      // value length missing
    [InlineData("0000" + "5105" + "2f", "truncated")] // value shorter than its length
    [InlineData("0000" + "23" + "6162", "truncated")] // literal name shorter than its length
    [InlineData("0000" + "2161", "truncated")]    // literal name, value missing
    [InlineData("0000" + "51" + "81" + "ff", "padding")] // RFC 7541 §5.2 via RFC 9204 §4.1.2: 8 bits of padding
    [InlineData("0000" + "ff" + "ffffffffffffffffff7f", "62 bits")] // RFC 9204 §4.1.1: integer overflow
    public void MalformedSectionsFailDecompression(string hex, string messagePart)
    {
        Http3ProtocolViolationException e = Assert.Throws<Http3ProtocolViolationException>(
            () => QpackDecoder.Decode(Convert.FromHexString(hex), NullFieldHandler.Instance, int.MaxValue));
        Assert.Equal(Http3ErrorCode.QpackDecompressionFailed, e.ErrorCode);
        Assert.Contains(messagePart, e.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void IgnoresDeltaBaseAndTheNeverIndexedBit()
    {
        // RFC 9204 §4.5.1.2: with no dynamic references any Base works (Sign 0, Delta Base 300 here).
        // RFC 9204 §4.5.4/§4.5.6: N = 1 only restricts re-encoding; the field decodes the same.
        byte[] section = Convert.FromHexString("00" + "7fad01" + "71" + "0161" + "3161" + "0162");
        List<(byte[] Name, byte[] Value)> fields = FieldCollector.Decode(section);
        Assert.Equal(2, fields.Count);
        Assert.Equal((":path", "a"), (Latin1.GetString(fields[0].Name), Latin1.GetString(fields[0].Value)));
        Assert.Equal(("a", "b"), (Latin1.GetString(fields[1].Name), Latin1.GetString(fields[1].Value)));
    }

    // RFC 9114 §4.2.2: a field line's size is name + value + 32; more than the advertised limit is refused.
    [Fact]
    public void EnforcesMaxFieldSectionSize()
    {
        var writer = new ArrayBufferWriter<byte>();
        QpackEncoder.EncodePrefix(writer);
        QpackEncoder.Encode(writer, ":status", "200");     // 7 + 3 + 32 = 42
        QpackEncoder.Encode(writer, "x-a", "0123456789"); // 3 + 10 + 32 = 45
        byte[] section = writer.WrittenSpan.ToArray();

        Assert.Equal(2, FieldCollector.Decode(section, 87).Count);
        Http3ProtocolViolationException e = Assert.Throws<Http3ProtocolViolationException>(() => FieldCollector.Decode(section, 86));
        Assert.Equal(Http3ErrorCode.ExcessiveLoad, e.ErrorCode);
        Assert.Equal("field section too large", e.Message);
        Http3FrameTests.AssertViolation(Http3ErrorCode.ExcessiveLoad, () => FieldCollector.Decode([0, 0, 0xd1], 0));
    }

    // A Huffman value that cannot fit the size-capped scratch is the size limit, not a decoding failure.
    [Fact]
    public void HugeHuffmanValueIsExcessiveLoad()
    {
        var writer = new ArrayBufferWriter<byte>();
        QpackEncoder.EncodePrefix(writer);
        QpackEncoder.Encode(writer, "x-big", new string('a', 5000));
        byte[] section = writer.WrittenSpan.ToArray();
        Assert.True(section.Length < 5000); // it was Huffman-coded

        Assert.Single(FieldCollector.Decode(section, 5000 + 5 + 32));
        Http3FrameTests.AssertViolation(Http3ErrorCode.ExcessiveLoad, () => FieldCollector.Decode(section, 4000));
    }

    // Per-request paths: encoding into a span and decoding into a non-allocating handler allocate nothing.
    [Fact]
    public void EncodeAndDecodeDoNotAllocate()
    {
        byte[] buffer = new byte[4096];
        byte[] longValue = new byte[2000];
        longValue.AsSpan().Fill((byte)'e');

        int Run()
        {
            int length = QpackEncoder.WritePrefix(buffer);
            length += QpackEncoder.WriteField(buffer.AsSpan(length), ":status"u8, "200"u8);
            length += QpackEncoder.WriteField(buffer.AsSpan(length), "Content-Type"u8, "application/json; charset=utf-8"u8);
            length += QpackEncoder.WriteField(buffer.AsSpan(length), "x-request-id"u8, "0f8fad5b-d9cb-469f-a165-70867728950e"u8);
            length += QpackEncoder.WriteField(buffer.AsSpan(length), "x-long"u8, longValue); // rented scratch on decode
            QpackDecoder.Decode(buffer.AsSpan(0, length), NullFieldHandler.Instance, int.MaxValue);
            return length;
        }

        for (int i = 0; i < 50; i++)
        {
            Run();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            Run();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void RoundTripsRandomFieldLists()
    {
        Gen<byte[]> token = Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789-_"].Array[1, 24]
            .Select(chars => Encoding.ASCII.GetBytes(chars));
        Gen<byte[]> staticName = Gen.Int[0, QpackStaticTable.Count - 1].Select(i => QpackStaticTable.GetName(i).ToArray());
        Gen<byte[]> value = Gen.Byte[0x20, 0xff].Array[0, 60];
        Gen<(byte[] Name, byte[] Value)> field = Gen.Frequency(
            (3, Gen.Select(token, value)),
            (2, Gen.Select(staticName, value)),
            (1, Gen.Int[0, QpackStaticTable.Count - 1].Select(i => (QpackStaticTable.GetName(i).ToArray(), QpackStaticTable.GetValue(i).ToArray()))));

        field.Array[0, 20].Sample(fields =>
        {
            var writer = new ArrayBufferWriter<byte>();
            QpackEncoder.EncodePrefix(writer);
            foreach ((byte[] name, byte[] val) in fields)
            {
                QpackEncoder.Encode(writer, name, val);
            }

            List<(byte[] Name, byte[] Value)> decoded = FieldCollector.Decode(writer.WrittenSpan);
            Assert.Equal(fields.Length, decoded.Count);
            for (int i = 0; i < fields.Length; i++)
            {
                Assert.Equal(fields[i].Name, decoded[i].Name);
                Assert.Equal(fields[i].Value, decoded[i].Value);
            }
        }, iter: 3_000);
    }
}
