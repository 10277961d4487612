using AspNetQuicSteer.Quic.Endpoint.Stateless;
using AspNetQuicSteer.Quic.Packets;
using AspNetQuicSteer.Quic.TransportParameters;
using static AspNetQuicSteer.Quic.Tests.Endpoint.StatelessTestData;

namespace AspNetQuicSteer.Quic.Tests.Endpoint;

public sealed class StatelessResetTests
{
    private static readonly StatelessResetToken Token = new StatelessResetTokenGenerator(new StatelessKeyRing(Secret(3))).Compute(RetryScid);

    [Fact]
    public void MinimumSizesFollowFromTheRfc()
    {
        // RFC 9000 §10.3: 2 fixed bits + >= 38 unpredictable bits (5 bytes) + 16-byte token = 21 bytes; §10.3.3: a
        // reset is strictly smaller than its trigger, so the smallest answerable datagram has 22 bytes.
        Assert.Equal(21, StatelessReset.MinimumLength);
        Assert.Equal(22, StatelessReset.MinimumTriggerLength);
    }

    [Fact]
    public void NeverAnswersDatagramsOf21BytesOrLess()
    {
        byte[] buffer = new byte[1500];
        for (int trigger = 0; trigger < StatelessReset.MinimumTriggerLength; trigger++)
        {
            Assert.False(StatelessReset.TryWrite(trigger, Token, buffer, out int length));
            Assert.Equal(0, length);
        }
    }

    [Theory]
    [InlineData(22)]
    [InlineData(30)]
    [InlineData(43)]
    public void ShortTriggersGetAResetOneByteShorter(int trigger)
    {
        // RFC 9000 §10.3: a reset answering a packet of 43 bytes or fewer SHOULD be one byte shorter.
        byte[] buffer = new byte[1500];
        Assert.True(StatelessReset.TryWrite(trigger, Token, buffer, out int length));
        Assert.Equal(trigger - 1, length);
        AssertResetShape(buffer.AsSpan(0, length));
    }

    [Theory]
    [InlineData(44)]
    [InlineData(60)]
    [InlineData(1200)]
    [InlineData(65_527)]
    public void LongTriggersGetARandomLengthBelowTheCap(int trigger)
    {
        byte[] buffer = new byte[1500];
        var lengths = new HashSet<int>();
        for (int i = 0; i < 200; i++)
        {
            Assert.True(StatelessReset.TryWrite(trigger, Token, buffer, out int length));
            Assert.InRange(length, 42, Math.Min(trigger - 1, StatelessReset.DefaultMaxLength));
            AssertResetShape(buffer.AsSpan(0, length));
            lengths.Add(length);
        }

        Assert.True(trigger == 44 ? lengths.Count == 2 : lengths.Count > 5, $"lengths seen: {lengths.Count}");
    }

    [Fact]
    public void CapAndDestinationBoundTheLength()
    {
        byte[] buffer = new byte[1500];
        Assert.True(StatelessReset.TryWrite(1200, Token, buffer, out int length, maxLength: 21));
        Assert.Equal(21, length);
        Assert.True(StatelessReset.TryWrite(1200, Token, buffer.AsSpan(0, 30), out length, maxLength: 1000));
        Assert.InRange(length, 30, 30);
        Assert.False(StatelessReset.TryWrite(1200, Token, buffer.AsSpan(0, 20), out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => StatelessReset.TryWrite(1200, Token, buffer, out _, maxLength: 20));
    }

    [Fact]
    public void ResetsAreUnpredictable()
    {
        // RFC 9000 §10.3: everything but the fixed bits and the token SHOULD be indistinguishable from random.
        byte[] a = new byte[64];
        byte[] b = new byte[64];
        Assert.True(StatelessReset.TryWrite(43, Token, a, out int lengthA));
        Assert.True(StatelessReset.TryWrite(43, Token, b, out int lengthB));
        Assert.Equal(42, lengthA);
        Assert.Equal(42, lengthB);
        Assert.False(a.AsSpan(0, 26).SequenceEqual(b.AsSpan(0, 26)));
        Assert.True(a.AsSpan(26, 16).SequenceEqual(b.AsSpan(26, 16)));
    }

    [Fact]
    public void AResetParsesAsAShortHeaderPacket()
    {
        // RFC 9000 §10.3: to third parties a reset looks like a short-header packet.
        byte[] buffer = new byte[1500];
        Assert.True(StatelessReset.TryWrite(1200, Token, buffer, out int length));
        Assert.True(PacketHeader.TryParse(buffer.AsSpan(0, length), 20, out PacketHeader header));
        Assert.Equal(QuicPacketType.OneRtt, header.Type);
    }

    [Fact]
    public void DetectorRecognizesResets()
    {
        byte[] buffer = new byte[1500];
        StatelessResetToken other = new StatelessResetTokenGenerator(new StatelessKeyRing(Secret(3))).Compute(OriginalDcid);
        Assert.True(StatelessReset.TryWrite(100, Token, buffer, out int length));
        ReadOnlySpan<byte> reset = buffer.AsSpan(0, length);
        Assert.True(StatelessReset.IsStatelessReset(reset, Token));
        Assert.True(StatelessReset.IsStatelessReset(reset, [other, Token]));
        Assert.True(StatelessReset.IsStatelessReset(reset, [Token, other]));
        Assert.False(StatelessReset.IsStatelessReset(reset, [other]));
        Assert.False(StatelessReset.IsStatelessReset(reset, ReadOnlySpan<StatelessResetToken>.Empty));
    }

    [Fact]
    public void DetectorRejectsNearMisses()
    {
        byte[] datagram = [0x41, 1, 2, 3, 4, .. Token.Span];
        Assert.Equal(21, datagram.Length);
        Assert.True(StatelessReset.IsStatelessReset(datagram, Token));

        // §10.3.1: only the trailing 16 bytes count, bit for bit.
        for (int bit = 0; bit < 128; bit++)
        {
            byte[] flipped = (byte[])datagram.Clone();
            flipped[5 + (bit / 8)] ^= (byte)(1 << (bit % 8));
            Assert.False(StatelessReset.IsStatelessReset(flipped, Token), $"bit {bit}");
            Assert.False(StatelessReset.IsStatelessReset(flipped, [Token]), $"bit {bit}");
        }

        Assert.False(StatelessReset.IsStatelessReset([.. datagram, 0], Token));     // token not at the end
        Assert.False(StatelessReset.IsStatelessReset(datagram.AsSpan(1), Token));    // 20 bytes: §10.3 too short
        Assert.False(StatelessReset.IsStatelessReset(Token.Span, [Token]));          // the bare token
        Assert.False(StatelessReset.IsStatelessReset([], [Token]));
    }

    [Fact]
    public void DetectorAcceptsALongHeaderEndingInTheToken()
    {
        // RFC 9000 §10.3: endpoints MUST treat any packet ending in a valid token as a reset, whatever its header.
        byte[] datagram = [0xC0, 0, 0, 0, 1, .. new byte[20], .. Token.Span];
        Assert.True(StatelessReset.IsStatelessReset(datagram, Token));
    }

    private static void AssertResetShape(ReadOnlySpan<byte> reset)
    {
        Assert.InRange(reset.Length, StatelessReset.MinimumLength, int.MaxValue);
        Assert.Equal(0x40, reset[0] & 0xC0); // §10.3 Figure 10: form 0, fixed bit 1
        Assert.True(reset[^16..].SequenceEqual(Token.Span));
        Assert.True(StatelessReset.IsStatelessReset(reset, Token));
    }
}

public sealed class StatelessResetRateLimiterTests
{
    [Fact]
    public void AllowsABurstThenTheSteadyRate()
    {
        // RFC 9000 §10.3.3: a limit on resets bounds how far the endpoint can be used as a reflector.
        var limiter = new StatelessResetRateLimiter(ratePerSecond: 10, burst: 5);
        TimeSpan now = TimeSpan.FromSeconds(100);
        for (int i = 0; i < 5; i++)
        {
            Assert.True(limiter.TryAcquire(now));
        }

        Assert.False(limiter.TryAcquire(now));
        Assert.False(limiter.TryAcquire(now + TimeSpan.FromMilliseconds(99)));
        Assert.True(limiter.TryAcquire(now + TimeSpan.FromMilliseconds(100)));
        Assert.False(limiter.TryAcquire(now + TimeSpan.FromMilliseconds(150)));
        Assert.Equal(3, limiter.Refused);
    }

    [Fact]
    public void RefillIsCappedAtTheBurst()
    {
        var limiter = new StatelessResetRateLimiter(ratePerSecond: 1000, burst: 3);
        Assert.True(limiter.TryAcquire(TimeSpan.Zero));
        TimeSpan later = TimeSpan.FromHours(1);
        int granted = 0;
        while (limiter.TryAcquire(later))
        {
            granted++;
        }

        Assert.Equal(3, granted);
    }

    [Fact]
    public void OverOneSecondItGrantsAboutTheRate()
    {
        var limiter = new StatelessResetRateLimiter(ratePerSecond: 100, burst: 10);
        int granted = 0;
        for (int ms = 0; ms <= 1000; ms++)
        {
            for (int i = 0; i < 10; i++)
            {
                granted += limiter.TryAcquire(TimeSpan.FromMilliseconds(ms)) ? 1 : 0;
            }
        }

        Assert.InRange(granted, 109, 110); // burst of 10 plus 100 refilled over one second
    }

    [Fact]
    public void ABackwardClockRefillsNothing()
    {
        var limiter = new StatelessResetRateLimiter(ratePerSecond: 1, burst: 1);
        Assert.True(limiter.TryAcquire(TimeSpan.FromSeconds(10)));
        Assert.False(limiter.TryAcquire(TimeSpan.FromSeconds(5)));
        Assert.False(limiter.TryAcquire(TimeSpan.FromSeconds(10.5)));
        Assert.True(limiter.TryAcquire(TimeSpan.FromSeconds(11)));
    }

    [Fact]
    public void RejectsNonPositiveSettings()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new StatelessResetRateLimiter(0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new StatelessResetRateLimiter(1, 0));
    }
}
