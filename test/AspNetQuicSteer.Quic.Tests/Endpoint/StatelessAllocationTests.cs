using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Endpoint.Stateless;
using AspNetQuicSteer.Quic.Packets;
using AspNetQuicSteer.Quic.TransportParameters;
using static AspNetQuicSteer.Quic.Tests.Endpoint.StatelessTestData;

namespace AspNetQuicSteer.Quic.Tests.Endpoint;

public sealed class StatelessAllocationTests
{
    // Project rule: the per-packet stateless paths (token open/seal, reset token, reset build/detect, admission,
    // Retry build/verify) allocate nothing, including for forged input.
    [Fact]
    public void PerPacketPathsAllocateNothing()
    {
        using var protector = new AddressValidationTokenProtector(new StatelessKeyRing(Secret(0)));
        var resets = new StatelessResetTokenGenerator(new StatelessKeyRing(Secret(0)));
        var limiter = new StatelessResetRateLimiter();
        IInitialAdmissionPolicy policy = InitialAdmissionPolicies.RetryAboveHandshakeLoad(10);
        var ids = new RandomConnectionIdGenerator(8);
        byte[] initial = RetryPacketsTests.ClientInitial(OriginalDcid, [0xc1]);
        Assert.True(PacketHeader.TryParse(initial, 8, out PacketHeader initialHeader));
        byte[] retryToken = RetryToken(protector, Client, Now);
        byte[] forged = (byte[])retryToken.Clone();
        forged[^1] ^= 1;
        byte[] tokenBuffer = new byte[AddressValidationTokenProtector.MaxTokenLength];
        byte[] packet = new byte[RetryPackets.MaxLength];
        StatelessResetToken[] peerTokens = [resets.Compute(RetryScid), resets.Compute(OriginalDcid)];

        // No xunit asserts inside the measured loop (their comparers allocate); failures are counted instead.
        int failures = 0;
        void Check(bool condition) => failures += condition ? 0 : 1;

        void RunOnce()
        {
            AddressTokenValidation valid = protector.Validate(retryToken, Client, RetryScid, Now);
            Check(valid.IsValid);
            Check(!protector.Validate(forged, Client, RetryScid, Now).IsValid);
            Check(protector.WriteNewToken(Client, Now, tokenBuffer) > 0);
            var context = new InitialAdmissionContext(Client, true, valid, 3, 3);
            Check(policy.Decide(context).Action == InitialAdmissionAction.Accept);
            StatelessResetToken token = resets.Compute(RetryScid);
            Check(StatelessReset.TryWrite(1200, token, packet, out int resetLength));
            Check(StatelessReset.IsStatelessReset(packet.AsSpan(0, resetLength), peerTokens));
            limiter.TryAcquire(TimeSpan.FromSeconds(1));
            Check(RetryPackets.TryWrite(protector, ids, Client, initial, initialHeader, Now, packet, out int retryLength, out _));
            Check(PacketHeader.TryParse(packet.AsSpan(0, retryLength), 0, out PacketHeader retryHeader));
            Check(RetryPackets.Validate(packet.AsSpan(0, retryLength), retryHeader, 1, OriginalDcid, [0xc1]) == RetryValidationResult.Valid);
        }

        // Warm up JIT, tiering, statics and thread-local cipher caches (first calls allocate once).
        for (int i = 0; i < 1000; i++)
        {
            RunOnce();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            RunOnce();
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, failures);
        Assert.Equal(0, allocated);
    }
}
