using AspNetQuicSteer.Kestrel.Internal;
using CsCheck;

namespace AspNetQuicSteer.Kestrel.Tests.Transport;

/// <summary>
/// RFC 9114 §5.2: a server's GOAWAY carries a client-initiated bidirectional stream ID; Kestrel's GOAWAY(2^62-1) goes
/// out as GOAWAY(2^62-4) (same varint length), and nothing else on the control stream changes, however it is split.
/// </summary>
public sealed class Http3GoAwayRewriterTests
{
    // Control stream type 0x00, SETTINGS (0x04) with MAX_FIELD_SECTION_SIZE (0x06) = 32768 as Kestrel sends it.
    private static readonly byte[] Settings = [0x00, 0x04, 0x05, 0x06, 0x80, 0x00, 0x80, 0x00];
    private static readonly byte[] GoAwayMax = [0x07, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
    private static readonly byte[] GoAwayMaxFixed = [0x07, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFC];
    private static readonly byte[] GoAwayEight = [0x07, 0x01, 0x08];

    [Fact]
    public void GoAwayMaxBecomesTheLargestRequestStreamId()
    {
        byte[] stream = [.. Settings, .. GoAwayMax, .. GoAwayEight];
        var rewriter = new Http3GoAwayRewriter();
        rewriter.Process(stream);
        Assert.Equal([.. Settings, .. GoAwayMaxFixed, .. GoAwayEight], stream);
    }

    [Fact]
    public void AnySplitGivesTheSameBytes()
    {
        byte[] expected = [.. Settings, .. GoAwayMaxFixed, .. GoAwayEight, .. GoAwayMaxFixed];
        Gen.Int[1, 12].Array[1, 40].Sample(chunks =>
        {
            byte[] stream = [.. Settings, .. GoAwayMax, .. GoAwayEight, .. GoAwayMax];
            var rewriter = new Http3GoAwayRewriter();
            int offset = 0;
            foreach (int chunk in chunks)
            {
                if (offset >= stream.Length) break;
                int length = Math.Min(chunk, stream.Length - offset);
                rewriter.Process(stream.AsSpan(offset, length));
                offset += length;
            }

            if (offset < stream.Length) rewriter.Process(stream.AsSpan(offset));
            Assert.Equal(expected, stream);
        });
    }

    [Fact]
    public void OtherFramesAndIdsAreNotTouched()
    {
        // An unknown frame whose payload happens to contain the GOAWAY bytes, and a non-maximal 8-byte GOAWAY ID.
        byte[] unknown = [0x21, 0x0A, .. GoAwayMax];
        byte[] goAwayLarge = [0x07, 0x08, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00];
        byte[] stream = [.. Settings, .. unknown, .. goAwayLarge];
        byte[] copy = [.. stream];
        new Http3GoAwayRewriter().Process(stream);
        Assert.Equal(copy, stream);
    }

    [Fact]
    public void RandomBytesNeverThrow()
    {
        Gen.Byte.Array[0, 300].Sample(bytes =>
        {
            var rewriter = new Http3GoAwayRewriter();
            rewriter.Process(bytes);
        }, iter: 20_000);
    }
}
