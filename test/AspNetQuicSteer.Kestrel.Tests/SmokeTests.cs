using AspNetQuicSteer.Quic.Tests.Interop;

namespace AspNetQuicSteer.Kestrel.Tests;

public sealed class SmokeTests
{
    [Fact]
    public void SharedInteropHelpersAreLinked() => Assert.NotNull(typeof(PeerProcess));
}
