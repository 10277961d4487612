using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Frames;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Tests.Frames;

/// <summary>The dispatch a connection performs, in test form: parse every frame of a payload and re-encode it.</summary>
internal static class FrameCodec
{
    /// <summary>Parses all frames of <paramref name="payload"/> and writes each back; returns the re-encoding.</summary>
    public static byte[] ParseAllAndRewrite(ReadOnlySpan<byte> payload, EncryptionLevel level = EncryptionLevel.OneRtt)
    {
        var output = new byte[payload.Length * 2 + 64];
        var writer = new QuicWriter(output);
        var frames = new FrameReader(payload, level, datagramFramesAccepted: true);
        while (frames.TryReadFrameType(out ulong type))
        {
            int before = frames.Reader.Position - FrameTypes.GetTypeLength(type);
            int written = writer.Position;
            int length = ParseAndWrite(ref frames.Reader, type, ref writer);
            Assert.Equal(writer.Position - written, length);             // GetLength agrees with Write
            Assert.True(frames.Reader.Position > before);
        }

        return writer.Written.ToArray();
    }

    /// <summary>Dispatches on the frame type, parses, writes; returns the frame's GetLength.</summary>
    public static int ParseAndWrite(ref QuicReader reader, ulong type, ref QuicWriter writer)
    {
        switch (FrameTypes.Normalize(type))
        {
            case FrameType.Padding: { var f = PaddingFrame.Parse(ref reader, type); f.Write(ref writer); return f.GetLength(); }
            case FrameType.Ping: { var f = PingFrame.Parse(ref reader, type); f.Write(ref writer); return f.GetLength(); }
            case FrameType.Ack:
            case FrameType.AckEcn:
                {
                    var f = AckFrame.Parse(ref reader, type);
                    foreach (AckRange range in f.GetRanges())
                    {
                        Assert.True(range.Smallest <= range.Largest);
                    }

                    f.Write(ref writer);
                    return f.GetLength();
                }

            case FrameType.ResetStream: { var f = ResetStreamFrame.Parse(ref reader, type); f.Write(ref writer); return f.GetLength(); }
            case FrameType.StopSending: { var f = StopSendingFrame.Parse(ref reader, type); f.Write(ref writer); return f.GetLength(); }
            case FrameType.Crypto: { var f = CryptoFrame.Parse(ref reader, type); f.Write(ref writer); return f.GetLength(); }
            case FrameType.NewToken: { var f = NewTokenFrame.Parse(ref reader, type); f.Write(ref writer); return f.GetLength(); }
            case FrameType.Stream: { var f = StreamFrame.Parse(ref reader, type); f.Write(ref writer); return f.GetLength(); }
            case FrameType.MaxData: { var f = MaxDataFrame.Parse(ref reader, type); f.Write(ref writer); return f.GetLength(); }
            case FrameType.MaxStreamData: { var f = MaxStreamDataFrame.Parse(ref reader, type); f.Write(ref writer); return f.GetLength(); }
            case FrameType.MaxStreamsBidi:
            case FrameType.MaxStreamsUni: { var f = MaxStreamsFrame.Parse(ref reader, type); f.Write(ref writer); return f.GetLength(); }
            case FrameType.DataBlocked: { var f = DataBlockedFrame.Parse(ref reader, type); f.Write(ref writer); return f.GetLength(); }
            case FrameType.StreamDataBlocked: { var f = StreamDataBlockedFrame.Parse(ref reader, type); f.Write(ref writer); return f.GetLength(); }
            case FrameType.StreamsBlockedBidi:
            case FrameType.StreamsBlockedUni: { var f = StreamsBlockedFrame.Parse(ref reader, type); f.Write(ref writer); return f.GetLength(); }
            case FrameType.NewConnectionId: { var f = NewConnectionIdFrame.Parse(ref reader, type); f.Write(ref writer); return f.GetLength(); }
            case FrameType.RetireConnectionId: { var f = RetireConnectionIdFrame.Parse(ref reader, type); f.Write(ref writer); return f.GetLength(); }
            case FrameType.PathChallenge: { var f = PathChallengeFrame.Parse(ref reader, type); f.Write(ref writer); return f.GetLength(); }
            case FrameType.PathResponse: { var f = PathResponseFrame.Parse(ref reader, type); f.Write(ref writer); return f.GetLength(); }
            case FrameType.ConnectionCloseTransport:
            case FrameType.ConnectionCloseApplication: { var f = ConnectionCloseFrame.Parse(ref reader, type); f.Write(ref writer); return f.GetLength(); }
            case FrameType.HandshakeDone: { var f = HandshakeDoneFrame.Parse(ref reader, type); f.Write(ref writer); return f.GetLength(); }
            case FrameType.Datagram:
            case FrameType.DatagramWithLength: { var f = DatagramFrame.Parse(ref reader, type); f.Write(ref writer); return f.GetLength(); }
            default: throw new InvalidOperationException($"FrameReader let unknown type 0x{type:x} through.");
        }
    }
}
