using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Frames;
using AspNetQuicSteer.Quic.Tests.Packets;
using AspNetQuicSteer.Quic.Wire;
using CsCheck;

namespace AspNetQuicSteer.Quic.Tests.Frames;

/// <summary>Peer bytes in a decrypted payload only ever produce frames or a QuicProtocolException.</summary>
public sealed class FrameFuzzTests
{
    private static readonly byte[][] Seeds =
    [
        Convert.FromHexString("020a03010200010f0440640268691802010401020304000102030405060708090a0b0c0d0e0f"),
        Convert.FromHexString("030a030002010203" + "0404410005" + "05080c" + "060003aabbcc" + "0702beef" + "0b04026869"),
        Convert.FromHexString("104400" + "11044400" + "120a" + "130b" + "144400" + "15044400" + "160a" + "170b" + "1901"),
        Convert.FromHexString("1a0102030405060708" + "1b0102030405060708" + "1c0a0603616263" + "1d410000" + "1e" + "3102686901" + "306869"),
        Convert.FromHexString(Packets.RfcVectors.ServerInitialPayload),
        Convert.FromHexString(Packets.RfcVectors.ClientInitialCryptoFrame + "000000"),
    ];

    private static int _samples;

    [Fact]
    public void RandomPayloadsOnlyEverRaiseQuicProtocolException()
        => Gen.Select(Gen.Byte.Array[0, 200], Gen.Int[0, 3]).Sample(ParseAtLevel, iter: 100_000);

    [Fact]
    public void MutatedValidPayloadsOnlyEverRaiseQuicProtocolException()
    {
        int before = Volatile.Read(ref _samples);
        Gen.Select(Mutations.Of(Seeds), Gen.Int[0, 3]).Sample(ParseAtLevel, iter: 100_000);
        Assert.True(Volatile.Read(ref _samples) - before >= 100_000);
    }

    private static void ParseAtLevel(byte[] payload, int level)
    {
        Interlocked.Increment(ref _samples);
        try
        {
            byte[] rewritten = FrameCodec.ParseAllAndRewrite(payload, (EncryptionLevel)level);
            Assert.True(rewritten.Length <= payload.Length); // re-encoding is minimal, never longer
        }
        catch (QuicProtocolException error)
        {
            Assert.True(error.ErrorCode is TransportErrorCode.FrameEncodingError or TransportErrorCode.ProtocolViolation);
        }
    }

    // parse(write(x)) == x for generated valid frames of every type.
    [Fact]
    public void GeneratedFramesRoundTrip()
    {
        int roundTrips = 0;
        Gen.Select(Gen.Int[0, 22], Gen.ULong[0, QuicVarInt.MaxValue].Array[4], Gen.Byte.Array[0, 40], Gen.Bool)
            .Sample((kind, v, data, flag) =>
            {
                var buffer = new byte[128];
                var writer = new QuicWriter(buffer);
                ulong small = v[1] & 0xffff;
                switch (kind)
                {
                    case 0: new PaddingFrame(1 + (int)(v[0] % 50)).Write(ref writer); break;
                    case 1: new PingFrame().Write(ref writer); break;
                    case 2: new ResetStreamFrame(v[0], v[1], v[2]).Write(ref writer); break;
                    case 3: new StopSendingFrame(v[0], v[1]).Write(ref writer); break;
                    case 4: new CryptoFrame(v[0] >> 2, data).Write(ref writer); break;
                    case 5: if (data.Length > 0) { new NewTokenFrame(data).Write(ref writer); } else { return; } break;
                    case 6: new StreamFrame(v[0], v[1] >> 2, data, flag, hasLength: true).Write(ref writer); break;
                    case 7: new StreamFrame(v[0], v[1] >> 2, data, !flag, hasLength: false).Write(ref writer); break;
                    case 8: new MaxDataFrame(v[0]).Write(ref writer); break;
                    case 9: new MaxStreamDataFrame(v[0], v[1]).Write(ref writer); break;
                    case 10: new MaxStreamsFrame(flag, v[0] >> 2).Write(ref writer); break;
                    case 11: new DataBlockedFrame(v[0]).Write(ref writer); break;
                    case 12: new StreamDataBlockedFrame(v[0], v[1]).Write(ref writer); break;
                    case 13: new StreamsBlockedFrame(flag, v[0] >> 2).Write(ref writer); break;
                    case 14:
                        new NewConnectionIdFrame(v[0], Math.Min(v[0], v[1]), data.Length is >= 1 and <= 20 ? data : [1, 2, 3], new byte[16]).Write(ref writer);
                        break;
                    case 15: new RetireConnectionIdFrame(v[0]).Write(ref writer); break;
                    case 16: new PathChallengeFrame(v[0] ^ v[1]).Write(ref writer); break;
                    case 17: new PathResponseFrame(v[0] ^ v[2]).Write(ref writer); break;
                    case 18: new ConnectionCloseFrame(false, v[0], small, data).Write(ref writer); break;
                    case 19: new ConnectionCloseFrame(true, v[0], 0, data).Write(ref writer); break;
                    case 20: new HandshakeDoneFrame().Write(ref writer); break;
                    case 21: new DatagramFrame(data, flag).Write(ref writer); break;
                    default: AckFrame.Write(ref writer, [new AckRange(small, small + (v[2] & 0xff))], v[3], flag ? new EcnCounts(v[0], v[1], v[2]) : null); break;
                }

                Interlocked.Increment(ref roundTrips);
                byte[] encoded = writer.Written.ToArray();
                Assert.Equal(encoded, FrameCodec.ParseAllAndRewrite(encoded));
                AssertFieldsSurvive(kind, encoded, v, data, flag);
            }, iter: 100_000);
        Assert.True(roundTrips >= 90_000); // only empty NEW_TOKEN samples are skipped
    }

    private static void AssertFieldsSurvive(int kind, byte[] encoded, ulong[] v, byte[] data, bool flag)
    {
        var reader = new QuicReader(encoded);
        ulong type = FrameReader.ReadFrameType(ref reader);
        switch (kind)
        {
            case 2: Assert.Equal(new ResetStreamFrame(v[0], v[1], v[2]), ResetStreamFrame.Parse(ref reader, type)); break;
            case 4:
                {
                    CryptoFrame crypto = CryptoFrame.Parse(ref reader, type);
                    Assert.Equal(v[0] >> 2, crypto.Offset);
                    Assert.Equal(data, crypto.Data.ToArray());
                    break;
                }

            case 6:
            case 7:
                {
                    StreamFrame stream = StreamFrame.Parse(ref reader, type);
                    Assert.Equal(v[0], stream.StreamId);
                    Assert.Equal(v[1] >> 2, stream.Offset);
                    Assert.Equal(data, stream.Data.ToArray());
                    Assert.Equal(kind == 6 ? flag : !flag, stream.Fin);
                    Assert.Equal(kind == 6, stream.HasLength);
                    break;
                }

            case 10: Assert.Equal(new MaxStreamsFrame(flag, v[0] >> 2), MaxStreamsFrame.Parse(ref reader, type)); break;
            case 13: Assert.Equal(new StreamsBlockedFrame(flag, v[0] >> 2), StreamsBlockedFrame.Parse(ref reader, type)); break;
            case 19:
                {
                    ConnectionCloseFrame close = ConnectionCloseFrame.Parse(ref reader, type);
                    Assert.True(close.IsApplicationError);
                    Assert.Equal(v[0], close.ErrorCode);
                    Assert.Equal(data, close.ReasonPhrase.ToArray());
                    break;
                }
        }
    }

    // RFC 9000 §19.8: the packetization helper's answer must fit exactly, and one more byte must not.
    [Fact]
    public void StreamDataLengthHelperFillsTheSpaceExactly()
    {
        Gen.Select(Gen.ULong[0, 1UL << 40], Gen.ULong[0, 1UL << 40], Gen.Int[0, 20_000], Gen.Bool).Sample((streamId, offset, space, withLength) =>
        {
            int max = StreamFrame.GetMaxDataLength(streamId, offset, space, withLength);
            if (max < 0)
            {
                return StreamFrame.GetHeaderLength(streamId, offset, withLength ? 0 : -1) > space;
            }

            int used = StreamFrame.GetHeaderLength(streamId, offset, withLength ? max : -1) + max;
            int usedPlusOne = StreamFrame.GetHeaderLength(streamId, offset, withLength ? max + 1 : -1) + max + 1;
            return used <= space && usedPlusOne > space;
        }, iter: 100_000);
    }

    [Fact]
    public void CryptoDataLengthHelperFillsTheSpaceExactly()
    {
        Gen.Select(Gen.ULong[0, 1UL << 40], Gen.Int[0, 20_000]).Sample((offset, space) =>
        {
            int max = CryptoFrame.GetMaxDataLength(offset, space);
            if (max < 0)
            {
                return 1 + QuicVarInt.GetLength(offset) + 1 > space;
            }

            int used = new CryptoFrame(offset, new byte[max]).GetLength();
            int usedPlusOne = new CryptoFrame(offset, new byte[max + 1]).GetLength();
            return used <= space && usedPlusOne > space;
        }, iter: 100_000);
    }
}
