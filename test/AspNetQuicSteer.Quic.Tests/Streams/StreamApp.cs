using AspNetQuicSteer.Quic.Streams;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Tests.Streams;

/// <summary>
/// The app on one side of a <see cref="StreamPump"/>: writes queued payloads (honouring backpressure),
/// accepts peer streams, reads everything readable, and polls events.
/// </summary>
internal sealed class StreamApp(QuicStreamManager manager)
{
    private readonly byte[] _readBuffer = new byte[7919];

    public QuicStreamManager Manager { get; } = manager;

    public Dictionary<ulong, (byte[] Data, int Written, bool Fin)> Sends { get; } = [];

    public Dictionary<ulong, List<byte>> Received { get; } = [];

    public HashSet<ulong> ReadFinished { get; } = [];

    public Dictionary<ulong, ulong> PeerResets { get; } = [];

    public List<QuicStreamEvent> Events { get; } = [];

    /// <summary>For an accepted peer bidirectional stream: the response to send on it (null = nothing, FIN only).</summary>
    public Func<ulong, byte[]?>? Respond { get; set; }

    public bool FinishSends { get; set; } = true;

    /// <summary>Opens a stream and queues <paramref name="payload"/> on it; false when the peer's limit forbids it.</summary>
    public bool TryOpen(bool bidirectional, byte[] payload, out ulong streamId)
    {
        if (!Manager.TryOpenStream(bidirectional, out streamId))
        {
            return false;
        }

        Sends[streamId] = (payload, 0, false);
        if (bidirectional)
        {
            Received[streamId] = [];
        }

        return true;
    }

    public void Run()
    {
        while (Manager.TryAcceptStream(out ulong id))
        {
            Received[id] = [];
            if (StreamId.IsBidirectional(id) && Respond is not null)
            {
                Sends[id] = (Respond(id) ?? [], 0, false);
            }
        }

        foreach (ulong id in Sends.Keys.ToArray())
        {
            (byte[] data, int written, bool fin) = Sends[id];
            if (fin)
            {
                continue;
            }

            int accepted = Manager.Write(id, data.AsSpan(written), FinishSends);
            written += accepted;
            Sends[id] = (data, written, FinishSends && written == data.Length);
        }

        foreach ((ulong id, List<byte> buffer) in Received)
        {
            if (ReadFinished.Contains(id) || PeerResets.ContainsKey(id))
            {
                continue;
            }

            if (Manager.TryGetPeerResetCode(id, out ulong code))
            {
                PeerResets[id] = code;
                _ = Manager.Read(id, _readBuffer, out _);
                continue;
            }

            while (true)
            {
                int read = Manager.Read(id, _readBuffer, out bool fin);
                buffer.AddRange(_readBuffer.AsSpan(0, read));
                if (fin)
                {
                    ReadFinished.Add(id);
                    break;
                }

                if (read == 0)
                {
                    break;
                }
            }
        }

        while (Manager.TryDequeueEvent(out QuicStreamEvent e))
        {
            Events.Add(e);
        }
    }

    public int CountEvents(QuicStreamEventKind kind) => Events.Count(e => e.Kind == kind);

    public static void AssertBytes(byte[] expected, List<byte> actual)
    {
        Assert.Equal(expected.Length, actual.Count);
        Assert.True(expected.AsSpan().SequenceEqual(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(actual)), "Received bytes differ.");
    }

    /// <summary>Deterministic payload for a stream, so the receiver can check it without sharing state.</summary>
    public static byte[] Payload(ulong streamId, int length, int salt = 0)
    {
        byte[] data = new byte[length];
        var random = new Random(unchecked((int)streamId * 7919 + salt));
        random.NextBytes(data);
        return data;
    }
}
