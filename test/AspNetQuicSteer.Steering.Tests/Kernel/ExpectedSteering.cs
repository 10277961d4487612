namespace AspNetQuicSteer.Steering.Tests.Kernel;

/// <summary>
/// The managed router's steering decision for one datagram, written out from the rules the kernel program must
/// reproduce (issue 6; the router itself is built on another branch — when it lands, these tests should call its
/// decision function instead of this model):
/// <list type="bullet">
/// <item>too short to hold the short-header DCID (fewer than 1 + CID length bytes) → active;</item>
/// <item>long header (byte 0 &amp; 0x80, RFC 9000 §17.2) → active (new connections go to the newest generation);</item>
/// <item>short header (RFC 9000 §17.3.1: DCID at byte 1) → the socket of the generation in the DCID's
/// <see cref="SteeringField"/>, or active when that generation is not live.</item>
/// </list>
/// </summary>
internal static class ExpectedSteering
{
    public static uint SocketIndex(
        ReadOnlySpan<byte> payload, SteeringField field, int shortHeaderCidLength, int activeSocketIndex,
        IReadOnlyDictionary<GenerationId, int> socketIndexByGeneration)
    {
        if (payload.Length < 1 + shortHeaderCidLength) return (uint)activeSocketIndex;
        if ((payload[0] & 0x80) != 0) return (uint)activeSocketIndex;
        if (!field.TryRead(payload.Slice(1, shortHeaderCidLength), out var generation)) return (uint)activeSocketIndex;
        return socketIndexByGeneration.TryGetValue(generation, out int index) ? (uint)index : (uint)activeSocketIndex;
    }
}
