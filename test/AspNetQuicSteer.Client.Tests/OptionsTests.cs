using AspNetQuicSteer.Client;

namespace AspNetQuicSteer.Client.Tests;

public sealed class OptionsTests
{
    [Fact]
    public void Setters_RejectOutOfRangeValues()
    {
        var options = new QuicSteeringHttp3HandlerOptions();
        Assert.Throws<ArgumentOutOfRangeException>(() => options.ConnectTimeout = TimeSpan.Zero);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.MaxConnectionsPerOrigin = 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.MaxRequestsPerConnection = -1);
        options.ResponseHeadersTimeout = Timeout.InfiniteTimeSpan;
        Assert.Equal(Timeout.InfiniteTimeSpan, options.ResponseHeadersTimeout);
    }
}
