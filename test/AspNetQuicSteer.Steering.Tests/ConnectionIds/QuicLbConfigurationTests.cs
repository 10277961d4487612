using AspNetQuicSteer.Steering.ConnectionIds;

namespace AspNetQuicSteer.Steering.Tests.ConnectionIds;

/// <summary>draft-ietf-quic-load-balancers-21 §3.1 (config rotation), §5.3 and Appendix A (length limits, key).</summary>
public sealed class QuicLbConfigurationTests
{
    private static readonly byte[] Key = new byte[16];

    [Fact]
    public void The_limits_of_the_draft_are_accepted()
    {
        var smallest = new QuicLbConfiguration(0, 1, 4);
        Assert.Equal(6, smallest.MinConnectionIdLength);
        Assert.False(smallest.HasKey);

        var largest = new QuicLbConfiguration(6, 15, 4, Key, selfEncodeLength: true);
        Assert.Equal(20, largest.MinConnectionIdLength);
        Assert.Equal(6, largest.ConfigRotation);
        Assert.True(largest.HasKey);
        Assert.True(largest.SelfEncodeLength);
        Assert.Equal(0xC0, largest.ConfigRotationBits);

        Assert.Equal(19, new QuicLbConfiguration(0, 1, 18).PlaintextLength);
    }

    [Theory]
    [InlineData(7, 3, 4, 0, "configRotation", "0b111")]            // §3.1: reserved for unroutable CIDs
    [InlineData(8, 3, 4, 0, "configRotation", "0..6")]
    [InlineData(-1, 3, 4, 0, "configRotation", "0..6")]
    [InlineData(0, 0, 4, 0, "serverIdLength", "1..15")]             // §5.3: at least one octet
    [InlineData(0, 16, 4, 0, "serverIdLength", "1..15")]
    [InlineData(0, 3, 3, 0, "nonceLength", "4..18")]                // §5.3: at least four octets
    [InlineData(0, 1, 19, 0, "nonceLength", "4..18")]
    [InlineData(0, 10, 10, 0, "nonceLength", "19 octets or less")]  // §5.3: sum ≤ 19
    [InlineData(0, 3, 4, 15, "key", "16 octets")]                   // §5.3: a 16-octet key
    [InlineData(0, 3, 4, 32, "key", "16 octets")]
    public void Invalid_configurations_are_rejected_with_the_reason(int configRotation, int serverIdLength, int nonceLength, int keyLength, string parameter, string reason)
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => new QuicLbConfiguration(configRotation, serverIdLength, nonceLength, new byte[keyLength]));
        Assert.Equal(parameter, e.ParamName);
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
        Assert.Contains("draft-ietf-quic-load-balancers-21", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_key_is_copied_and_not_printed()
    {
        byte[] key = [.. Enumerable.Range(1, 16).Select(i => (byte)i)];
        var config = new QuicLbConfiguration(2, 4, 8, key);
        key[0] = 0xFF;
        Assert.Equal(1, config.Key[0]);
        Assert.Equal("QUIC-LB config 2: FourPass, server ID 4 B, nonce 8 B", config.ToString());
    }
}
