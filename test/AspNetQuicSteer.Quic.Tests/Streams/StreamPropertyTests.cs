using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Frames;
using AspNetQuicSteer.Quic.Streams;
using AspNetQuicSteer.Quic.Wire;
using CsCheck;

namespace AspNetQuicSteer.Quic.Tests.Streams;

/// <summary>Properties over random operations, random peer frames, and the allocation-free packet path.</summary>
public sealed class StreamPropertyTests
{
    [Fact]
    public void RandomAppAndNetworkOperations_NeverViolateFlowControl_NorThrow()
    {
        Gen.Select(Gen.Int[0, 9].Select(Gen.Int[0, 1 << 16]).Array[20, 120], Gen.Int[0, 1000]).Sample(
            (ops, seed) =>
            {
                var options = new QuicStreamOptions
                {
                    InitialStreamReceiveWindow = 2048,
                    MaxStreamReceiveWindow = 16 * 1024,
                    InitialConnectionReceiveWindow = 4096,
                    MaxConnectionReceiveWindow = 32 * 1024,
                    MaxConcurrentBidiStreams = 4,
                    MaxConcurrentUniStreams = 3,
                    MaxSendBufferPerStream = 3000,
                };
                var pump = new StreamPump(options, options, seed) { LossRate = 0.15, DuplicateRate = 0.1, AckLossRate = 0.1, Reorder = true, MaxPacketsPerStep = 8 };
                var client = new StreamApp(pump.Client) { Respond = id => StreamApp.Payload(id, (int)(id % 5000)) };
                var server = new StreamApp(pump.Server) { Respond = id => StreamApp.Payload(id, (int)(id % 3000)) };
                var aborted = new HashSet<ulong>();
                foreach ((int op, int arg) in ops)
                {
                    StreamApp app = arg % 2 == 0 ? client : server;
                    switch (op)
                    {
                        case 0 or 1:
                            app.TryOpen(bidirectional: op == 0, StreamApp.Payload((ulong)arg, arg % 9000), out _);
                            break;
                        case 2 or 3 or 4:
                            app.Run();
                            break;
                        case 5 or 6:
                            pump.Step();
                            break;
                        case 7:
                            if (app.Sends.Count > 0)
                            {
                                ulong victim = app.Sends.Keys.ElementAt(arg % app.Sends.Count);
                                aborted.Add(victim);
                                app.Manager.ResetStream(victim, (ulong)arg);
                            }

                            break;
                        case 8:
                            if (app.Received.Count > 0)
                            {
                                ulong victim = app.Received.Keys.ElementAt(arg % app.Received.Count);
                                aborted.Add(victim);
                                app.Manager.StopSending(victim, (ulong)arg);
                            }

                            break;
                        default:
                            app.Manager.GetWritableCapacity((ulong)arg % 32);
                            app.Manager.GetReadableBytes((ulong)arg % 32);
                            break;
                    }

                    // RFC 9000 §4.1: never more data in flight than the credit the sender was given.
                    Assert.True(pump.Client.SentData <= pump.Client.PeerMaxData);
                    Assert.True(pump.Server.SentData <= pump.Server.PeerMaxData);
                }

                pump.LossRate = pump.DuplicateRate = pump.AckLossRate = 0;
                for (int i = 0; i < 200; i++)
                {
                    client.Run();
                    server.Run();
                    pump.Step();
                }

                Assert.Equal(0UL, pump.ServerCredit.Violations);
                Assert.Equal(0UL, pump.ClientCredit.Violations);
                Assert.Equal(0, pump.InFlight);

                // Every finished, never aborted transfer arrived intact and its stream was released (RFC 9000 §3).
                foreach ((ulong id, (byte[] data, int written, bool fin)) in client.Sends)
                {
                    if (fin && !aborted.Contains(id) && StreamId.IsUnidirectional(id))
                    {
                        Assert.Contains(id, server.ReadFinished);
                        StreamApp.AssertBytes(data, server.Received[id]);
                        Assert.False(pump.Client.IsStreamActive(id));
                        Assert.False(pump.Server.IsStreamActive(id));
                    }
                }
            },
            iter: 150);
    }

    [Fact]
    public void RandomPeerFrames_OnlyEverRaiseQuicProtocolException_AndNeverExceedOurCredit()
    {
        var op = Gen.Select(Gen.Int[0, 11], Gen.ULong[0, 40], Gen.ULong[0, 6000], Gen.Int[0, 1500], Gen.Bool, Gen.ULong[0, 20_000]);
        op.Array[1, 40].Sample(
            ops =>
            {
                var options = new QuicStreamOptions
                {
                    InitialStreamReceiveWindow = 2000,
                    InitialConnectionReceiveWindow = 5000,
                    MaxConcurrentBidiStreams = 5,
                    MaxConcurrentUniStreams = 5,
                };
                QuicStreamManager m = StreamErrorTests.NewServer(options);
                byte[] data = new byte[1500];
                byte[] sink = new byte[800];
                try
                {
                    foreach ((int kind, ulong id, ulong offset, int length, bool flag, ulong value) in ops)
                    {
                        switch (kind)
                        {
                            case 0 or 1:
                                m.OnStreamFrame(new StreamFrame(id, offset, data.AsSpan(0, length), flag));
                                break;
                            case 2:
                                m.OnResetStreamFrame(new ResetStreamFrame(id, value, offset));
                                break;
                            case 3:
                                m.OnStopSendingFrame(new StopSendingFrame(id, value));
                                break;
                            case 4:
                                m.OnMaxStreamDataFrame(new MaxStreamDataFrame(id, value));
                                break;
                            case 5:
                                m.OnMaxDataFrame(new MaxDataFrame(value));
                                break;
                            case 6:
                                m.OnMaxStreamsFrame(new MaxStreamsFrame(flag, value));
                                m.OnStreamsBlockedFrame(new StreamsBlockedFrame(!flag, value));
                                m.OnDataBlockedFrame(new DataBlockedFrame(value));
                                break;
                            case 7:
                                m.OnStreamDataBlockedFrame(new StreamDataBlockedFrame(id, value));
                                break;
                            case 8:
                                // The app: accept and read, or open and write.
                                while (m.TryAcceptStream(out ulong accepted))
                                {
                                    _ = m.Read(accepted, sink, out _);
                                }

                                if (m.TryOpenStream(flag, out ulong mine))
                                {
                                    _ = m.Write(mine, data.AsSpan(0, length), fin: flag);
                                }

                                break;
                            case 9:
                                if (m.IsStreamActive(id) && m.TryGetReceiveState(id, out _))
                                {
                                    m.StopSending(id, value);
                                }

                                break;
                            case 10:
                                if (m.IsStreamActive(id) && m.TryGetReceiveState(id, out _))
                                {
                                    _ = m.Read(id, sink, out _);
                                }

                                break;
                            default:
                                if (m.HasDataToSend)
                                {
                                    (_, SentFrame[] frames) = StreamRecoveryTests.Build(m);
                                    foreach (SentFrame frame in frames)
                                    {
                                        if (flag)
                                        {
                                            m.OnFrameLost(frame);
                                        }
                                        else
                                        {
                                            m.OnFrameAcknowledged(frame);
                                        }
                                    }
                                }

                                break;
                        }

                        // RFC 9000 §4.1: what we accepted never exceeds the credit we gave.
                        Assert.True(m.ReceivedData <= m.LocalMaxData);
                        Assert.True(m.SentData <= m.PeerMaxData);
                    }
                }
                catch (QuicProtocolException ex)
                {
                    Assert.True(ex.ErrorCode is TransportErrorCode.StreamStateError or TransportErrorCode.StreamLimitError
                        or TransportErrorCode.FlowControlError or TransportErrorCode.FinalSizeError, ex.ErrorCode.ToString());
                }
            },
            iter: 3000);
    }

    [Fact]
    public void StreamFramePacking_MatchesStreamFrameSizing()
    {
        Gen.Select(Gen.ULong[0, 1UL << 40], Gen.ULong[0, QuicVarInt.MaxValue], Gen.Int[0, 70_000]).Sample((streamId, offset, space) =>
            Assert.Equal(StreamFrame.GetMaxDataLength(streamId, offset, space, withLength: true), StreamFramePacking.GetMaxDataLength(streamId, offset, space)));
    }
}
