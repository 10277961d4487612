using System.Security.Cryptography;
using AspNetQuicSteer.Steering.ConnectionIds;
using AspNetQuicSteer.Steering.Membership;
using CsCheck;

namespace AspNetQuicSteer.Steering.Tests.Membership;

/// <summary>The port-group description handed to joining generations: round trips, and bad bytes are typed errors only.</summary>
public sealed class PortGroupDescriptionTests
{
    private static PortGroupDescription Sample(SteeringDataplaneMode mode = SteeringDataplaneMode.ReuseportCbpf) =>
        new(mode, new QuicLbConfiguration(2, 3, 8, selfEncodeLength: true), [0xA0, 0xA1, 0xA2], 14, MaskGeneration: true, RandomNumberGenerator.GetBytes(32));

    [Theory]
    [InlineData((byte)SteeringDataplaneMode.ReuseportCbpf, false, false, false)]
    [InlineData((byte)SteeringDataplaneMode.ReuseportCbpf, false, false, true)]
    [InlineData((byte)SteeringDataplaneMode.ReuseportEbpf, false, true, true)]
    [InlineData((byte)SteeringDataplaneMode.Forwarding, true, false, true)]
    public void Round_trips(byte mode, bool udp, bool maps, bool tcp)
    {
        PortGroupDescription description = Sample((SteeringDataplaneMode)mode);
        PortGroupDescription parsed = PortGroupDescription.Parse(description.Write(udp, maps, tcp), out bool hasUdp, out bool hasMaps, out bool hasTcp);
        Assert.Equal(description, parsed);
        Assert.Equal((udp, maps, tcp), (hasUdp, hasMaps, hasTcp));
    }

    [Fact]
    public void Keyed_configurations_round_trip_their_key()
    {
        var description = new PortGroupDescription(SteeringDataplaneMode.ReuseportCbpf,
            new QuicLbConfiguration(1, 4, 12, RandomNumberGenerator.GetBytes(16)), [1, 2, 3, 4], 17, MaskGeneration: false, RandomNumberGenerator.GetBytes(48));
        Assert.Equal(description, PortGroupDescription.Parse(description.Write(false, false), out _, out _));
    }

    [Fact]
    public void A_different_layout_is_detected()
    {
        PortGroupDescription a = Sample();
        Assert.True(a.HasSameLayoutAs(a with { MasterSecret = RandomNumberGenerator.GetBytes(32), Mode = SteeringDataplaneMode.Forwarding }));
        Assert.False(a.HasSameLayoutAs(a with { ConnectionIdLength = 15 }));
        Assert.False(a.HasSameLayoutAs(a with { ServerId = [0xA0, 0xA1, 0xA3] }));
        Assert.False(a.HasSameLayoutAs(a with { MaskGeneration = false }));
    }

    [Theory]
    [InlineData(0, "magic")]
    [InlineData(4, "version")]
    [InlineData(5, "dataplane mode")]
    [InlineData(6, "has UDP socket")]
    public void Bad_fields_are_named(int offset, string what)
    {
        byte[] bytes = Sample().Write(false, false);
        bytes[offset] = 0x77;
        var error = Assert.Throws<PortGroupShareException>(() => PortGroupDescription.Parse(bytes, out _, out _));
        Assert.Contains(what.Split(' ')[0], error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Truncated_and_extended_descriptions_are_refused()
    {
        byte[] bytes = Sample().Write(false, false);
        for (int length = 0; length < bytes.Length; length++)
        {
            Assert.Throws<PortGroupShareException>(() => PortGroupDescription.Parse(bytes.AsSpan(0, length), out _, out _));
        }

        Assert.Throws<PortGroupShareException>(() => PortGroupDescription.Parse([.. bytes, 0], out _, out _));
    }

    [Fact]
    public void Mutated_and_random_bytes_only_ever_raise_the_typed_error()
    {
        byte[] valid = Sample().Write(true, false);
        Gen.Select(Gen.Int[0, valid.Length - 1], Gen.Byte, Gen.Byte.Array[0, 80], Gen.Bool).Sample((position, value, random, useRandom) =>
        {
            byte[] input = useRandom ? random : [.. valid];
            if (!useRandom) input[position] = value;
            try
            {
                PortGroupDescription.Parse(input, out _, out _);
            }
            catch (PortGroupShareException)
            {
            }
        }, iter: 20_000);
    }
}
