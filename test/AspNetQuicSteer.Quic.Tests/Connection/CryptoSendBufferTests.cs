using AspNetQuicSteer.Quic.Connection;

namespace AspNetQuicSteer.Quic.Tests.Connection;

public sealed class CryptoSendBufferTests
{
    [Fact]
    public void LostDataIsResentExceptWhatWasAcknowledged()
    {
        // RFC 9002 §6.1 / §6.2.4: lost or probed CRYPTO data is retransmitted; acknowledged bytes are not.
        var send = new CryptoSendBuffer();
        send.Append(new byte[300]);
        Assert.True(send.TryPeekPending(100, out ulong offset, out ReadOnlySpan<byte> data));
        Assert.Equal(0UL, offset);
        Assert.Equal(100, data.Length);
        send.MarkSent(0, 100);
        Assert.True(send.TryPeekPending(1000, out offset, out data));
        send.MarkSent(offset, data.Length);
        Assert.False(send.HasPendingData);

        send.MarkAcknowledged(100, 50);
        send.MarkLost(0, 300);
        Assert.True(send.TryPeekPending(1000, out offset, out data));
        Assert.Equal((0UL, 100), (offset, data.Length));
        send.MarkSent(offset, data.Length);
        Assert.True(send.TryPeekPending(1000, out offset, out data));
        Assert.Equal((150UL, 150), (offset, data.Length));

        send.MarkAcknowledged(0, 100);
        send.MarkAcknowledged(150, 150);
        Assert.True(send.IsFullyAcknowledged);
    }
}
