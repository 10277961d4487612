using AspNetQuicSteer.Quic.Crypto;
using CsCheck;
using static AspNetQuicSteer.Quic.Tests.Crypto.PacketProtectionTestPackets;

namespace AspNetQuicSteer.Quic.Tests.Crypto;

public sealed class PacketProtectionFuzzTests
{
    private enum Mutation
    {
        None,       // control: the packet must open
        BitFlip,    // one bit anywhere (header, packet number, ciphertext, tag)
        Truncate,   // cut anywhere, including below the header protection sample (§5.4.2)
        Extend,     // trailing bytes that were not sealed
        Overwrite,  // one byte replaced with a different value
        Random,     // random bytes of random length with a random packet number offset
    }

    private sealed record Case(int Suite, bool LongHeader, int PnOffset, int PnLength, ulong PacketNumber,
        byte[] Payload, Mutation Mutation, int Position, byte[] Noise);

    private const int Iterations = 120_000;

    [Fact]
    public void RandomAndMutatedPacketsAreRejectedWithoutThrowing()
    {
        // RFC 9001 §5.4.2 (too short for the sample -> discard), §5.3 (AEAD authentication covers header, packet
        // number and payload), §5.4.1 (header protection bits feed the associated data): every mutation of a sealed
        // packet must make TryUnprotect+TryOpen return false, and no input may throw.
        // Sender and receiver hold separate objects derived from the same secret, as two endpoints would.
        byte[][] secrets = AllSuites.Select(s => System.Security.Cryptography.RandomNumberGenerator.GetBytes(s.HashLength())).ToArray();
        PacketProtectionKeys[] senders = AllSuites.Select((s, i) => PacketProtectionKeys.Create(s, secrets[i])).ToArray();
        PacketProtectionKeys[] receivers = AllSuites.Select((s, i) => PacketProtectionKeys.Create(s, secrets[i])).ToArray();

        var gen = from suite in Gen.Int[0, 2]
                  from longHeader in Gen.Bool
                  from pnOffset in Gen.Int[1, 30]
                  from pnLength in Gen.Int[1, 4]
                  from pn in Gen.ULong[0, PacketAead.MaxPacketNumber]
                  from payload in Gen.Byte.Array[0, 120]
                  from mutation in Gen.Enum<Mutation>()
                  from position in Gen.Int[0, int.MaxValue]
                  from noise in Gen.Byte.Array[1, 160]
                  select new Case(suite, longHeader, pnOffset, pnLength, pn, payload, mutation, position, noise);

        long executed = 0;
        long rejected = 0;
        long opened = 0;
        long failedOpensBefore = receivers.Sum(r => r.Integrity.FailedOpens);
        gen.Sample(c =>
        {
            PacketProtectionKeys sender = senders[c.Suite];
            PacketProtectionKeys receiver = receivers[c.Suite];
            byte[] payload = c.Payload.Length >= PacketProtectionKeys.MinPayloadLength(c.PnLength)
                ? c.Payload
                : [.. c.Payload, .. new byte[PacketProtectionKeys.MinPayloadLength(c.PnLength) - c.Payload.Length]];
            // Truncate the packet number to its encoded length (RFC 9000 §17.1); the receiver is given the full one.
            byte[] packet = Unprotected(c.LongHeader, c.PnOffset, c.PnLength, c.PacketNumber, payload);
            Assert.Equal(packet.Length, sender.Seal(packet, c.PnOffset, c.PnLength, payload.Length, c.PacketNumber));

            int pnOffset = c.PnOffset;
            switch (c.Mutation)
            {
                case Mutation.BitFlip:
                    int bit = c.Position % (packet.Length * 8);
                    packet[bit / 8] ^= (byte)(1 << (bit % 8));
                    break;
                case Mutation.Truncate:
                    packet = packet[..(c.Position % packet.Length)];
                    break;
                case Mutation.Extend:
                    packet = [.. packet, .. c.Noise];
                    break;
                case Mutation.Overwrite:
                    int at = c.Position % packet.Length;
                    packet[at] = c.Noise[0] == packet[at] ? (byte)~packet[at] : c.Noise[0];
                    break;
                case Mutation.Random:
                    packet = c.Noise;
                    pnOffset = c.Position % (packet.Length + 2) - 1; // includes 0, -1 and past-the-end offsets
                    break;
            }

            bool ok = receiver.TryUnprotectHeader(packet, pnOffset, out int pnLength)
                && receiver.TryOpen(packet, pnOffset, pnLength, c.PacketNumber, out int payloadLength)
                && (c.Mutation != Mutation.None || payload.AsSpan().SequenceEqual(packet.AsSpan(pnOffset + pnLength, payloadLength)));
            if (c.Mutation == Mutation.None)
            {
                Assert.True(ok, "an unmodified packet must open");
                opened++;
            }
            else
            {
                Assert.False(ok, $"{c.Mutation} accepted");
                rejected++;
            }

            executed++;
        }, iter: Iterations, threads: 1);

        Assert.Equal(Iterations, executed);
        Assert.True(rejected > Iterations / 2, $"rejected {rejected}");
        Assert.True(opened > 0);
        // Mutations that still had a sample reached the AEAD and were counted as failed authentications (§6.6).
        Assert.True(receivers.Sum(r => r.Integrity.FailedOpens) - failedOpensBefore > Iterations / 4);
        foreach (PacketProtectionKeys keys in senders.Concat(receivers))
        {
            keys.Dispose();
        }
    }
}
