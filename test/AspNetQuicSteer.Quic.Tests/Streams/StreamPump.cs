using AspNetQuicSteer.Quic.Connection;
using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Frames;
using AspNetQuicSteer.Quic.Streams;
using AspNetQuicSteer.Quic.TransportParameters;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Tests.Streams;

/// <summary>A packet in flight between the two managers: its payload and the frames the sender recorded.</summary>
internal sealed class PumpPacket(byte[] payload, SentFrame[] frames, bool fromClient)
{
    public byte[] Payload { get; } = payload;

    public SentFrame[] Frames { get; } = frames;

    public bool FromClient { get; } = fromClient;

    /// <summary>Steps left before delivery (reordering across steps).</summary>
    public int Delay { get; set; }
}

/// <summary>Collects the frames of the packet being built (the connection's role).</summary>
internal sealed class RecordingSink : ISentFrameSink
{
    public List<SentFrame> Frames { get; } = [];

    public void Record(in SentFrame frame) => Frames.Add(frame);
}

/// <summary>
/// The credit one side has actually put on the wire (its transport parameters plus MAX_DATA /
/// MAX_STREAM_DATA frames delivered to the other side). Every STREAM / RESET_STREAM frame the other
/// side sends is checked against it: bytes sent never exceed the credit the sender could have known
/// (RFC 9000 §4.1).
/// </summary>
internal sealed class CreditTracker(ulong initialMaxData, ulong initialStreamData)
{
    private readonly Dictionary<ulong, ulong> _streamCredit = [];
    private readonly Dictionary<ulong, ulong> _highest = [];
    private ulong _maxData = initialMaxData;
    private ulong _total;

    public ulong Violations { get; private set; }

    public void OnMaxData(ulong value) => _maxData = Math.Max(_maxData, value);

    public void OnMaxStreamData(ulong streamId, ulong value)
        => _streamCredit[streamId] = Math.Max(value, _streamCredit.GetValueOrDefault(streamId, initialStreamData));

    public void OnData(ulong streamId, ulong end)
    {
        ulong highest = _highest.GetValueOrDefault(streamId);
        if (end > highest)
        {
            _total += end - highest;
            _highest[streamId] = end;
        }

        if (end > _streamCredit.GetValueOrDefault(streamId, initialStreamData) || _total > _maxData)
        {
            Violations++;
        }
    }
}

/// <summary>
/// Two stream managers joined by an in-memory, lossy, reordering, duplicating "network". Each step both
/// sides fill packets (the connection's role), the network shuffles, drops and duplicates them, the
/// receiver parses and handles the frames, and acknowledgments or losses go back to the sender.
/// </summary>
internal sealed class StreamPump
{
    private readonly List<PumpPacket> _inFlight = [];
    private readonly Random _random;
    private readonly RecordingSink _sink = new();
    private readonly byte[] _packetBuffer;

    public StreamPump(QuicStreamOptions clientOptions, QuicStreamOptions serverOptions, int seed = 1, int packetSize = 1200)
    {
        _random = new Random(seed);
        _packetBuffer = new byte[packetSize];
        Client = new QuicStreamManager(isServer: false, clientOptions);
        Server = new QuicStreamManager(isServer: true, serverOptions);
        var clientParameters = new QuicTransportParameters();
        var serverParameters = new QuicTransportParameters();
        Client.FillLocalTransportParameters(clientParameters);
        Server.FillLocalTransportParameters(serverParameters);
        Client.ApplyPeerTransportParameters(serverParameters);
        Server.ApplyPeerTransportParameters(clientParameters);

        // Credit the server gives the client, checked on client-sent data, and vice versa.
        ServerCredit = new CreditTracker(serverParameters.InitialMaxData, serverParameters.InitialMaxStreamDataBidiRemote);
        ClientCredit = new CreditTracker(clientParameters.InitialMaxData, clientParameters.InitialMaxStreamDataBidiRemote);
    }

    public QuicStreamManager Client { get; }

    public QuicStreamManager Server { get; }

    public CreditTracker ServerCredit { get; }

    public CreditTracker ClientCredit { get; }

    public double LossRate { get; set; }

    public double DuplicateRate { get; set; }

    /// <summary>Probability that a delivered packet's acknowledgment is lost, so the sender declares it lost (spurious retransmission).</summary>
    public double AckLossRate { get; set; }

    public bool Reorder { get; set; }

    /// <summary>Packets each side may send per step (a crude congestion window).</summary>
    public int MaxPacketsPerStep { get; set; } = 64;

    public TimeSpan Now { get; private set; } = TimeSpan.FromSeconds(1);

    public TimeSpan Rtt { get; set; } = TimeSpan.FromMilliseconds(20);

    public int PacketsSent { get; private set; }

    /// <summary>Every frame type written, by frame kind.</summary>
    public Dictionary<SentFrameKind, int> FramesSentByKind { get; } = [];

    public Dictionary<SentFrameKind, int> ClientFramesSent { get; } = [];

    public List<(bool FromClient, SentFrame Frame)> SentLog { get; } = [];

    public bool LogFrames { get; set; }

    public int InFlight => _inFlight.Count;

    /// <summary>One one-way trip (half an RTT): both sides send, the network delivers (or drops) everything due.</summary>
    public void Step()
    {
        SendAll(Client, fromClient: true);
        SendAll(Server, fromClient: false);
        Deliver();
        Now += Rtt / 2;
    }

    public void SendAll(QuicStreamManager sender, bool fromClient)
    {
        for (int i = 0; i < MaxPacketsPerStep && sender.HasDataToSend; i++)
        {
            _sink.Frames.Clear();
            var writer = new QuicWriter(_packetBuffer);
            if (!sender.WriteFrames(ref writer, _sink, Now, Rtt))
            {
                continue;
            }

            PacketsSent++;
            foreach (SentFrame frame in _sink.Frames)
            {
                FramesSentByKind[frame.Kind] = FramesSentByKind.GetValueOrDefault(frame.Kind) + 1;
                if (fromClient)
                {
                    ClientFramesSent[frame.Kind] = ClientFramesSent.GetValueOrDefault(frame.Kind) + 1;
                }

                if (LogFrames)
                {
                    SentLog.Add((fromClient, frame));
                }
            }

            _inFlight.Add(new PumpPacket(writer.Written.ToArray(), [.. _sink.Frames], fromClient)
            {
                Delay = Reorder && _random.NextDouble() < 0.2 ? 1 : 0,
            });
        }
    }

    private void Deliver()
    {
        var due = new List<PumpPacket>();
        for (int i = _inFlight.Count - 1; i >= 0; i--)
        {
            if (_inFlight[i].Delay-- <= 0)
            {
                due.Add(_inFlight[i]);
                _inFlight.RemoveAt(i);
            }
        }

        if (Reorder)
        {
            _random.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(due));
        }
        else
        {
            due.Reverse();
        }

        foreach (PumpPacket packet in due)
        {
            QuicStreamManager sender = packet.FromClient ? Client : Server;
            if (_random.NextDouble() < LossRate)
            {
                foreach (SentFrame frame in packet.Frames)
                {
                    sender.OnFrameLost(frame);
                }

                continue;
            }

            DeliverPayload(packet.Payload, packet.FromClient);
            if (_random.NextDouble() < DuplicateRate)
            {
                DeliverPayload(packet.Payload, packet.FromClient);
            }

            bool ackLost = _random.NextDouble() < AckLossRate;
            foreach (SentFrame frame in packet.Frames)
            {
                if (ackLost)
                {
                    sender.OnFrameLost(frame);
                }
                else
                {
                    sender.OnFrameAcknowledged(frame);
                }
            }
        }
    }

    /// <summary>Parses a payload as the connection would and hands each frame to the receiving manager.</summary>
    public void DeliverPayload(byte[] payload, bool fromClient)
    {
        QuicStreamManager receiver = fromClient ? Server : Client;
        CreditTracker senderCreditFromReceiver = fromClient ? ServerCredit : ClientCredit;
        CreditTracker receiverCreditFromSender = fromClient ? ClientCredit : ServerCredit;
        var reader = new FrameReader(payload, EncryptionLevel.OneRtt, datagramFramesAccepted: false);
        while (reader.TryReadFrameType(out ulong type))
        {
            switch (FrameTypes.Normalize(type))
            {
                case FrameType.Stream:
                    StreamFrame stream = StreamFrame.Parse(ref reader.Reader, type);
                    senderCreditFromReceiver.OnData(stream.StreamId, stream.EndOffset);
                    receiver.OnStreamFrame(in stream);
                    break;
                case FrameType.ResetStream:
                    ResetStreamFrame reset = ResetStreamFrame.Parse(ref reader.Reader, type);
                    senderCreditFromReceiver.OnData(reset.StreamId, reset.FinalSize);
                    receiver.OnResetStreamFrame(in reset);
                    break;
                case FrameType.StopSending:
                    receiver.OnStopSendingFrame(StopSendingFrame.Parse(ref reader.Reader, type));
                    break;
                case FrameType.MaxData:
                    MaxDataFrame maxData = MaxDataFrame.Parse(ref reader.Reader, type);
                    receiverCreditFromSender.OnMaxData(maxData.MaximumData);
                    receiver.OnMaxDataFrame(in maxData);
                    break;
                case FrameType.MaxStreamData:
                    MaxStreamDataFrame maxStreamData = MaxStreamDataFrame.Parse(ref reader.Reader, type);
                    receiverCreditFromSender.OnMaxStreamData(maxStreamData.StreamId, maxStreamData.MaximumStreamData);
                    receiver.OnMaxStreamDataFrame(in maxStreamData);
                    break;
                case FrameType.MaxStreamsBidi or FrameType.MaxStreamsUni:
                    receiver.OnMaxStreamsFrame(MaxStreamsFrame.Parse(ref reader.Reader, type));
                    break;
                case FrameType.DataBlocked:
                    receiver.OnDataBlockedFrame(DataBlockedFrame.Parse(ref reader.Reader, type));
                    break;
                case FrameType.StreamDataBlocked:
                    receiver.OnStreamDataBlockedFrame(StreamDataBlockedFrame.Parse(ref reader.Reader, type));
                    break;
                case FrameType.StreamsBlockedBidi or FrameType.StreamsBlockedUni:
                    receiver.OnStreamsBlockedFrame(StreamsBlockedFrame.Parse(ref reader.Reader, type));
                    break;
                default:
                    throw new InvalidOperationException($"Unexpected frame type 0x{type:x} from a stream manager.");
            }
        }
    }
}
