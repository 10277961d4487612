using CsCheck;

namespace AspNetQuicSteer.Steering.Tests;

public sealed class SteeringFieldTests
{
    [Fact]
    public void Write_then_read_round_trips_plain_and_masked() =>
        Gen.Select(Gen.Byte.Array[8, 20], Gen.Byte, Gen.Bool).Sample((cid, value, masked) =>
        {
            var field = new SteeringField(Offset: 5, MaskOffset: masked ? 6 : -1);
            field.Write(cid, new GenerationId(value));
            Assert.True(field.TryRead(cid, out GenerationId read));
            Assert.Equal(value, read.Value);
        });

    [Fact]
    public void A_masked_field_is_the_value_xor_the_mask_byte()
    {
        byte[] cid = [0x40, 1, 2, 3, 4, 0, 0xA5, 7];
        new SteeringField(5, 6).Write(cid, new GenerationId(0x0F));
        Assert.Equal(0x0F ^ 0xA5, cid[5]);
    }

    [Fact]
    public void A_connection_id_too_short_for_the_field_is_not_read()
    {
        Assert.False(new SteeringField(5).TryRead([1, 2, 3, 4, 5], out _));
        Assert.False(new SteeringField(2, 7).TryRead([1, 2, 3, 4, 5], out _));
    }
}
