using System.Text;
using AspNetQuicSteer.Client.Http3;

namespace AspNetQuicSteer.Client.Tests.Http3;

public sealed class QpackStaticTableTests
{
    // RFC 9204 Appendix A spot checks.
    [Theory]
    [InlineData(0, ":authority", "")]
    [InlineData(1, ":path", "/")]
    [InlineData(17, ":method", "GET")]
    [InlineData(25, ":status", "200")]
    [InlineData(41, "cache-control", "public, max-age=31536000")]
    [InlineData(52, "content-type", "text/html; charset=utf-8")]
    [InlineData(58, "strict-transport-security", "max-age=31536000; includesubdomains; preload")]
    [InlineData(85, "content-security-policy", "script-src 'none'; object-src 'none'; base-uri 'none'")]
    [InlineData(98, "x-frame-options", "sameorigin")]
    public void Entries(int index, string name, string value)
    {
        Assert.Equal(name, Encoding.ASCII.GetString(QpackStaticTable.GetName(index)));
        Assert.Equal(value, Encoding.ASCII.GetString(QpackStaticTable.GetValue(index)));
        Assert.Equal(index, QpackStaticTable.FindField(Encoding.ASCII.GetBytes(name), Encoding.ASCII.GetBytes(value)));
    }

    [Fact]
    public void EveryEntryIsFoundByItsNameAndValue_AndNamesResolveToTheirLowestIndex()
    {
        Assert.Equal(99, QpackStaticTable.Count);
        for (int index = 0; index < QpackStaticTable.Count; index++)
        {
            ReadOnlySpan<byte> name = QpackStaticTable.GetName(index);
            Assert.Equal(index, QpackStaticTable.FindField(name, QpackStaticTable.GetValue(index)));
            int lowest = QpackStaticTable.FindName(name);
            Assert.InRange(lowest, 0, index);
            Assert.True(name.SequenceEqual(QpackStaticTable.GetName(lowest)));
            Assert.DoesNotContain(name.ToArray(), b => b is >= (byte)'A' and <= (byte)'Z');
        }
    }

    [Fact]
    public void Lookups()
    {
        Assert.Equal(24, QpackStaticTable.Find(":status"u8, "201"u8, out bool matched)); // name only: lowest :status
        Assert.False(matched);
        Assert.Equal(71, QpackStaticTable.Find(":status"u8, "500"u8, out matched));
        Assert.True(matched);
        Assert.Equal(-1, QpackStaticTable.Find("x-custom"u8, ""u8, out matched));
        Assert.False(matched);
        Assert.Equal(-1, QpackStaticTable.FindName("Content-Type"u8)); // case-sensitive: names are lowercase
        Assert.Equal(-1, QpackStaticTable.FindName(""u8));
        Assert.Equal(-1, QpackStaticTable.FindName(new byte[100]));
        Assert.Equal(-1, QpackStaticTable.FindField(":method"u8, "get"u8)); // values are case-sensitive
    }
}
