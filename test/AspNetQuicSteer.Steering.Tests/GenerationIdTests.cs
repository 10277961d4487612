namespace AspNetQuicSteer.Steering.Tests;

public sealed class GenerationIdTests
{
    [Fact]
    public void Formats_as_gen_and_value() => Assert.Equal("gen7", new GenerationId(7).ToString());
}
