using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Wire;
using CsCheck;

namespace AspNetQuicSteer.Quic.Tests.Connection;

public sealed class CryptoReceiveBufferTests
{
    [Fact]
    public void DeliversOutOfOrderFramesInOrder()
    {
        // RFC 9000 §19.6: CRYPTO frames carry offsets; Chromium sends the ClientHello out of order.
        var buffer = new CryptoReceiveBuffer();
        buffer.Insert(5, "world"u8);
        Assert.True(buffer.Contiguous.IsEmpty);
        buffer.Insert(0, "hello"u8);
        Assert.Equal("helloworld"u8.ToArray(), buffer.Contiguous.ToArray());
        buffer.Consume(10);
        Assert.Equal(10UL, buffer.ReadOffset);
        buffer.Insert(3, "lo"u8); // retransmission of consumed data is ignored
        Assert.True(buffer.Contiguous.IsEmpty);
    }

    [Fact]
    public void DataBeyondTheLimitIsCryptoBufferExceeded()
    {
        // RFC 9000 §7.5: CRYPTO_BUFFER_EXCEEDED when out-of-order data exceeds the buffer.
        var buffer = new CryptoReceiveBuffer(maxBuffered: 4096);
        var ex = Assert.Throws<QuicProtocolException>(() => buffer.Insert(5000, new byte[10]));
        Assert.Equal(TransportErrorCode.CryptoBufferExceeded, ex.ErrorCode);
    }

    [Fact]
    public void AnyFragmentationAndOrderReassemblesTheSameBytes()
    {
        byte[] message = Enumerable.Range(0, 3000).Select(i => (byte)(i * 7)).ToArray();
        Gen.Int[1, 400].Array[1, 40].Select(Gen.Int).Sample((cuts, seed) =>
        {
            var pieces = new List<(int Offset, int Length)>();
            int offset = 0, i = 0;
            while (offset < message.Length)
            {
                int len = Math.Min(cuts[i++ % cuts.Length], message.Length - offset);
                pieces.Add((offset, len));
                offset += len;
            }

            var rng = new Random(seed);
            pieces.AddRange(pieces.Take(3)); // duplicates
            var shuffled = pieces.OrderBy(_ => rng.Next()).ToList();
            var buffer = new CryptoReceiveBuffer();
            var output = new List<byte>();
            try
            {
                foreach ((int o, int l) in shuffled)
                {
                    buffer.Insert((ulong)o, message.AsSpan(o, l));
                    ReadOnlySpan<byte> ready = buffer.Contiguous;
                    output.AddRange(ready.ToArray());
                    buffer.Consume(ready.Length);
                }
            }
            catch (QuicProtocolException ex) when (ex.ErrorCode == TransportErrorCode.CryptoBufferExceeded)
            {
                // Bounded state: only legitimate when the peer fragmented beyond the documented limit.
                return pieces.Count > CryptoReceiveBuffer.MaxFragments;
            }

            return output.SequenceEqual(message);
        }, iter: 2_000);
    }
}
