using AspNetQuicSteer.Quic.Tests.Packets;
using AspNetQuicSteer.Steering.Coordination;
using CsCheck;

namespace AspNetQuicSteer.Steering.Tests.Coordination;

/// <summary>Invariant 7 for the control protocol: any bytes parse to a message or throw the typed exception, nothing else.</summary>
public sealed class CoordinatorMessageFuzzTests
{
    private static readonly byte[][] Seeds = [.. CoordinatorMessageTests.Samples().Select(m => m.ToArray())];

    [Fact]
    public void Random_bytes_never_throw_anything_but_the_typed_exception()
        => Gen.Byte.Array[0, 300].Sample(Check, iter: 100_000);

    [Fact]
    public void Random_bytes_behind_a_valid_header_never_throw_anything_but_the_typed_exception()
        => Gen.Select(Gen.Int[1, 11], Gen.Byte.Array[0, 300], (type, payload) =>
        {
            byte[] frame = new byte[CoordinatorMessage.HeaderLength + payload.Length];
            "QSTR"u8.CopyTo(frame);
            frame[4] = CoordinatorMessage.ProtocolVersion;
            frame[5] = (byte)type;
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(6), (uint)payload.Length);
            payload.CopyTo(frame, CoordinatorMessage.HeaderLength);
            return frame;
        }).Sample(Check, iter: 100_000);

    [Fact]
    public void Mutated_valid_frames_never_throw_anything_but_the_typed_exception()
        => Mutations.Of(Seeds).Sample(Check, iter: 200_000);

    private static void Check(byte[] frame)
    {
        CoordinatorMessage message;
        try
        {
            message = CoordinatorMessage.Parse(frame);
        }
        catch (CoordinatorProtocolException e)
        {
            Assert.True(e.ErrorCode is CoordinatorErrorCode.MalformedFrame or CoordinatorErrorCode.UnsupportedVersion);
            return;
        }

        // Whatever parses is canonical: it writes back to the same bytes and parses to an equal message.
        byte[] written = message.ToArray();
        Assert.Equal(frame, written);
        Assert.Equal(message, CoordinatorMessage.Parse(written));
    }
}
