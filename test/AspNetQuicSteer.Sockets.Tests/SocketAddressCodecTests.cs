using System.Net;

namespace AspNetQuicSteer.Sockets.Tests;

public sealed class SocketAddressCodecTests
{
    [Theory]
    [InlineData("127.0.0.1", 443, 16)]
    [InlineData("::1", 4433, 28)]
    [InlineData("::ffff:10.1.2.3", 65535, 28)]
    [InlineData("fe80::1%3", 1, 28)]
    public void RoundTripsEndPoints(string address, int port, int expectedLength)
    {
        var endPoint = new IPEndPoint(IPAddress.Parse(address), port);
        Span<byte> raw = stackalloc byte[SocketAddressCodec.MaxLength];
        Assert.Equal(expectedLength, SocketAddressCodec.Write(endPoint, raw));
        Assert.Equal(endPoint, SocketAddressCodec.ToIPEndPoint(raw));
    }

    [Fact]
    public void WritesLinuxSockaddrIn()
    {
        Span<byte> raw = stackalloc byte[SocketAddressCodec.MaxLength];
        SocketAddressCodec.Write(new IPEndPoint(IPAddress.Parse("192.0.2.7"), 0x1234), raw);
        // sin_family = AF_INET (2, host order), sin_port network order, sin_addr, zero padding.
        Assert.Equal(Convert.FromHexString("020012 34C0000207 0000000000000000".Replace(" ", "", StringComparison.Ordinal)), raw[..16].ToArray());
    }

    [Fact]
    public void MappedAndPlainIPv4CompareEqualAndConvert()
    {
        Span<byte> v4 = stackalloc byte[SocketAddressCodec.MaxLength];
        Span<byte> v6 = stackalloc byte[SocketAddressCodec.MaxLength];
        Span<byte> other = stackalloc byte[SocketAddressCodec.MaxLength];
        SocketAddressCodec.Write(new IPEndPoint(IPAddress.Parse("10.0.0.1"), 5000), v4);
        SocketAddressCodec.Write(new IPEndPoint(IPAddress.Parse("::ffff:10.0.0.1"), 5000), v6);
        SocketAddressCodec.Write(new IPEndPoint(IPAddress.Parse("::ffff:10.0.0.1"), 5001), other);
        Assert.True(SocketAddressCodec.AddressEquals(v4, v6));
        Assert.True(SocketAddressCodec.AddressEquals(v6, v4));
        Assert.False(SocketAddressCodec.AddressEquals(v4, other));

        Span<byte> converted = stackalloc byte[SocketAddressCodec.MaxLength];
        Assert.Equal(28, SocketAddressCodec.WriteForFamily(v4, 10, converted));
        Assert.Equal(new IPEndPoint(IPAddress.Parse("::ffff:10.0.0.1"), 5000), SocketAddressCodec.ToIPEndPoint(converted));
        Assert.Equal(16, SocketAddressCodec.WriteForFamily(v6, 2, converted));
        Assert.Equal(new IPEndPoint(IPAddress.Parse("10.0.0.1"), 5000), SocketAddressCodec.ToIPEndPoint(converted));
        SocketAddressCodec.Write(new IPEndPoint(IPAddress.IPv6Loopback, 5000), v6);
        Assert.Equal(0, SocketAddressCodec.WriteForFamily(v6, 2, converted));
    }

    [Fact]
    public void GroSegmentsSplitWithShortLast()
    {
        var batch = new DatagramBatch(2, 5000);
        batch.SetReceiveMetadata(0, 2500, 1000, truncated: false);
        Assert.Equal(3, batch.GetSegmentCount(0));
        Assert.Equal(1000, batch.GetSegment(0, 0).Length);
        Assert.Equal(500, batch.GetSegment(0, 2).Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.GetSegment(0, 3));
        batch.SetReceiveMetadata(1, 700, 0, truncated: false);
        Assert.Equal(1, batch.GetSegmentCount(1));
        Assert.Equal(700, batch.GetSegmentSize(1));
    }
}
