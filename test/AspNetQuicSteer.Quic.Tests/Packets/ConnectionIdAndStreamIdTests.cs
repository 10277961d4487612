using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Tests.Packets;

public sealed class ConnectionIdAndStreamIdTests
{
    [Fact]
    public void ConnectionIdStoresUpToTwentyBytesWithValueEquality()
    {
        byte[] bytes = Convert.FromHexString("000102030405060708090a0b0c0d0e0f10111213");
        var a = new ConnectionId(bytes);
        var b = new ConnectionId(bytes.AsSpan());
        Assert.Equal(20, a.Length);
        Assert.True(a == b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.Equal("000102030405060708090a0b0c0d0e0f10111213", a.ToString());
        Assert.True(a != new ConnectionId(bytes.AsSpan(0, 19)));
        Assert.True(ConnectionId.Empty.IsEmpty);
        Assert.Equal(ConnectionId.Empty, new ConnectionId([]));
    }

    [Fact]
    public void ConnectionIdRejectsMoreThanTwentyBytes()
    {
        // RFC 9000 §17.2: version 1 connection IDs are at most 20 bytes.
        Assert.Throws<ArgumentException>(() => new ConnectionId(new byte[21]));
        Assert.False(ConnectionId.TryCreate(new byte[21], out _));
    }

    // RFC 9000 §2.1 Table 1: 0x00 client bidi, 0x01 server bidi, 0x02 client uni, 0x03 server uni.
    [Theory]
    [InlineData(0UL, true, true)]
    [InlineData(1UL, false, true)]
    [InlineData(2UL, true, false)]
    [InlineData(3UL, false, false)]
    [InlineData(4UL, true, true)]
    public void StreamIdBitsFollowRfc9000Section2_1(ulong id, bool clientInitiated, bool bidirectional)
    {
        Assert.Equal(clientInitiated, StreamId.IsClientInitiated(id));
        Assert.Equal(!clientInitiated, StreamId.IsServerInitiated(id));
        Assert.Equal(bidirectional, StreamId.IsBidirectional(id));
        Assert.Equal(!bidirectional, StreamId.IsUnidirectional(id));
        Assert.Equal(id, StreamId.FromIndex(StreamId.GetIndex(id), !clientInitiated, !bidirectional));
        Assert.Equal(!clientInitiated, StreamId.IsLocallyInitiated(id, localIsServer: true));
    }

    [Fact]
    public void StreamIdIndexSpaceEndsAtTwoToTheSixtyTwoMinusOne()
    {
        Assert.Equal(StreamId.MaxValue, StreamId.FromIndex(StreamId.MaxStreamCount - 1, serverInitiated: true, unidirectional: true));
        Assert.Throws<ArgumentOutOfRangeException>(() => StreamId.FromIndex(StreamId.MaxStreamCount, false, false));
        Assert.Equal(2UL, StreamId.GetRequiredStreamCount(4));
    }
}
