using System.Net;
using System.Net.Sockets;
using AspNetQuicSteer.Quic.Tests.Interop;

namespace AspNetQuicSteer.Kestrel.Tests.Interop;

/// <summary>One crafted datagram and what it is meant to exercise.</summary>
internal readonly record struct HostileDatagram(string Kind, byte[] Bytes);

/// <summary>
/// Hostile UDP input for the HTTP/3 port: a genuine client Initial captured from gtlsclient, then truncated and
/// mutated copies of it (header fields, protected payload) and random datagrams. Deterministic for a given seed.
/// </summary>
internal static class HostileDatagrams
{
    /// <summary>
    /// Captures gtlsclient's first datagram (a 1200-byte client Initial carrying its ClientHello, RFC 9000 §14.1) by
    /// pointing it at a socket that never answers; the process is killed afterwards.
    /// </summary>
    public static async Task<byte[]> CaptureClientInitialAsync(CancellationToken cancellationToken)
    {
        string gtlsclient = InteropPeers.Require(InteropPeer.GtlsClient);
        using Socket sink = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sink.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        string port = ((IPEndPoint)sink.LocalEndPoint!).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await using PeerProcess client = PeerProcess.Start(gtlsclient,
            ["-q", "--exit-on-all-streams-close", "--handshake-timeout=5s", "127.0.0.1", port, $"https://127.0.0.1:{port}/hello"],
            maxLifetime: TimeSpan.FromSeconds(15));
        byte[] buffer = new byte[65535];
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        int length = await sink.ReceiveAsync(buffer, SocketFlags.None, timeout.Token).ConfigureAwait(false);
        return buffer[..length];
    }

    /// <summary>Truncated and mutated copies of <paramref name="initial"/>, then <paramref name="randomCount"/> random datagrams.</summary>
    public static IReadOnlyList<HostileDatagram> Create(byte[] initial, int seed, int randomCount)
    {
        ArgumentNullException.ThrowIfNull(initial);
        Random random = new(seed);
        List<HostileDatagram> list = [];

        // Truncations (RFC 9000 §14.1: a client Initial datagram under 1200 bytes is dropped; §12.2: a packet whose
        // Length runs past the datagram is dropped): inside the first byte, version, connection IDs, token, payload, AEAD tag.
        foreach (int length in new[] { 1, 2, 5, 6, 7, 12, 20, 30, 45, 64, 100, 600, 1199 })
        {
            list.Add(new($"truncated to {length}", initial[..Math.Min(length, initial.Length)]));
        }

        // One bit flipped in the protected part (RFC 9001 §5.3/§9.5: AEAD failure, the packet is discarded).
        for (int i = 0; i < 40; i++)
        {
            byte[] copy = (byte[])initial.Clone();
            int position = random.Next(Math.Min(initial.Length - 1, 60), initial.Length);
            copy[position] ^= (byte)(1 << random.Next(8));
            list.Add(new($"bit flip at {position}", copy));
        }

        int dcidLength = initial[5];
        int afterDcid = 6 + dcidLength;
        int scidLength = initial[afterDcid];
        int tokenLengthAt = afterDcid + 1 + scidLength;
        list.Add(new("fixed bit cleared", Mutate(initial, c => c[0] &= 0xBF))); // RFC 9000 §17.2: MUST be 1 (v1)
        list.Add(new("type 0-RTT", Mutate(initial, c => c[0] = (byte)((c[0] & 0xCF) | 0x10)))); // unknown connection: dropped or buffered
        list.Add(new("type Handshake", Mutate(initial, c => c[0] = (byte)((c[0] & 0xCF) | 0x20)))); // no Handshake keys: dropped
        list.Add(new("type Retry", Mutate(initial, c => c[0] = (byte)((c[0] & 0xCF) | 0x30)))); // servers never accept Retry
        list.Add(new("version 0 (version negotiation from a client)", Mutate(initial, c => c[1] = c[2] = c[3] = c[4] = 0)));
        list.Add(new("unknown version 0x1a2a3a4a", Mutate(initial, c => { c[1] = 0x1a; c[2] = 0x2a; c[3] = 0x3a; c[4] = 0x4a; })));
        list.Add(new("unknown version, short", Mutate(initial, c => { c[1] = 0x1a; c[2] = 0x2a; c[3] = 0x3a; c[4] = 0x4a; })[..100]));
        list.Add(new("DCID length 21", Mutate(initial, c => c[5] = 21))); // RFC 9000 §17.2: > 20 in v1 is invalid
        list.Add(new("DCID length 255", Mutate(initial, c => c[5] = 255)));
        list.Add(new("DCID length 0", Mutate(initial, c => c[5] = 0))); // RFC 9000 §7.2: < 8 bytes from a client Initial
        list.Add(new("SCID length 255", Mutate(initial, c => c[afterDcid] = 255)));
        list.Add(new("token length 2^62-1", Mutate(initial, c => { c[tokenLengthAt] = 0xFF; })));
        list.Add(new("token length 1000", Mutate(initial, c => c[tokenLengthAt] = 0x43))); // 2-byte varint 0x03E8 = 1000 with the next byte
        list.Add(new("length varint 2^62-1",
            Mutate(initial, c => { c[tokenLengthAt + 1] = 0xFF; c[tokenLengthAt + 2] = 0xFF; })));
        list.Add(new("length 0", Mutate(initial, c => { c[tokenLengthAt + 1] = 0x40; c[tokenLengthAt + 2] = 0x00; })));
        list.Add(new("length 1", Mutate(initial, c => { c[tokenLengthAt + 1] = 0x40; c[tokenLengthAt + 2] = 0x01; })));
        list.Add(new("Initial followed by garbage", [.. initial, .. RandomBytes(random, 300)])); // coalesced junk (RFC 9000 §12.2)
        list.Add(new("Initial twice in one datagram", [.. initial, .. initial]));
        list.Add(new("empty", []));
        list.Add(new("max-size random", RandomBytes(random, 65507)));

        for (int i = 0; i < randomCount; i++)
        {
            byte[] bytes = RandomBytes(random, random.Next(1, 1500));
            switch (i % 4)
            {
                case 0: // long header, version 1, random rest
                    bytes[0] |= 0xC0;
                    if (bytes.Length > 5)
                    {
                        bytes[1] = 0; bytes[2] = 0; bytes[3] = 0; bytes[4] = 1;
                    }

                    list.Add(new("random long header v1", bytes));
                    break;
                case 1: // short header with a random DCID: no such connection (RFC 9000 §10.3 stateless reset at most)
                    bytes[0] = (byte)((bytes[0] & 0x3F) | 0x40);
                    list.Add(new("random short header", bytes));
                    break;
                case 2: // the genuine header with a random body
                    byte[] hybrid = (byte[])initial.Clone();
                    random.NextBytes(hybrid.AsSpan(Math.Min(tokenLengthAt + 3, hybrid.Length)));
                    list.Add(new("Initial header, random payload", hybrid));
                    break;
                default:
                    list.Add(new("random", bytes));
                    break;
            }
        }

        return list;
    }

    /// <summary>
    /// Sends every datagram from <paramref name="socket"/> to <paramref name="target"/>, yielding every few datagrams so
    /// the loopback receive buffer does not overflow (the point is to reach the parser, not to be dropped by the kernel).
    /// </summary>
    public static async Task SendAllAsync(Socket socket, IPEndPoint target, IEnumerable<HostileDatagram> datagrams, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(socket);
        int sent = 0;
        foreach (HostileDatagram datagram in datagrams)
        {
            await socket.SendToAsync(datagram.Bytes, SocketFlags.None, target, cancellationToken).ConfigureAwait(false);
            if (++sent % 16 == 0)
            {
                await Task.Delay(1, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static byte[] Mutate(byte[] original, Action<byte[]> change)
    {
        byte[] copy = (byte[])original.Clone();
        change(copy);
        return copy;
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        byte[] bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
