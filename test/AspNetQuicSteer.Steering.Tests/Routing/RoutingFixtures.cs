using System.Buffers.Binary;
using AspNetQuicSteer.Steering.Routing;

namespace AspNetQuicSteer.Steering.Tests.Routing;

/// <summary>
/// A port with 8-byte CIDs whose generation byte sits at CID offset 1 (after a QUIC-LB first octet), plain or
/// XOR-masked with CID byte 7, shared by:
/// the default app (gen1 draining, gen2 active) and two CIBIR apps, A (gen9 draining, gen10 active, ID c1 b1 at
/// SCID offset 0) and B (gen20, ID c1 b2 at offset 0). Datagram builders follow RFC 9000 §17.
/// </summary>
internal static class RoutingFixtures
{
    public const int CidLength = 8;

    public static readonly GenerationId Old = new(1);
    public static readonly GenerationId Active = new(2);
    public static readonly GenerationId AppAOld = new(9);
    public static readonly GenerationId AppA = new(10);
    public static readonly GenerationId AppB = new(20);
    public static readonly GenerationId Exited = new(3);

    public static readonly byte[] AppAId = [0xc1, 0xb1];
    public static readonly byte[] AppBId = [0xc1, 0xb2];

    public static readonly SteeringField PlainField = new(Offset: 1);
    public static readonly SteeringField MaskedField = new(Offset: 1, MaskOffset: 7);

    public static DataplaneTarget TargetOf(GenerationId generation) => generation.Value switch
    {
        1 => new DataplaneTarget(0),
        2 => new DataplaneTarget(1),
        9 => new DataplaneTarget(3),
        10 => new DataplaneTarget(2),
        20 => new DataplaneTarget(4),
        _ => throw new ArgumentOutOfRangeException(nameof(generation)),
    };

    public static SteeringTable Table(bool masked = false, bool handshakeToOwner = false, bool withActive = true) => new(
        masked ? MaskedField : PlainField,
        CidLength,
        new[] { Old, Active, AppAOld, AppA, AppB }.Select(g => new LiveGeneration(g, TargetOf(g))),
        withActive ? Active : null,
        [new CibirRule(AppAId, 0, AppA), new CibirRule(AppBId, 0, AppB)],
        handshakeToOwner);

    /// <summary>A server-issued CID of <paramref name="generation"/>: QUIC-LB-like first octet, random rest, field written.</summary>
    public static byte[] ServerCid(GenerationId generation, bool masked = false, int seed = 1)
    {
        var cid = new byte[CidLength];
        new Random(seed).NextBytes(cid);
        (masked ? MaskedField : PlainField).Write(cid, generation);
        return cid;
    }

    /// <summary>A client-chosen CID (random, as RFC 9000 §7.2 asks), optionally carrying a CIBIR ID at offset 0.</summary>
    public static byte[] ClientCid(byte[]? cibirId = null, int length = 8, int seed = 2)
    {
        var cid = new byte[length];
        new Random(seed).NextBytes(cid);
        cibirId?.CopyTo(cid, 0);
        return cid;
    }

    // RFC 9000 §17.2: 1 | fixed 1 | type (2) | reserved (2) | PN length (2). 0x?3 = 4-byte packet number.
    public const byte InitialFirstByte = 0xc3;
    public const byte ZeroRttFirstByte = 0xd3;
    public const byte HandshakeFirstByte = 0xe3;
    public const byte RetryFirstByte = 0xf0;

    /// <summary>A v1 Initial padded to 1200 bytes (RFC 9000 §14.1), token empty, Length covering the rest.</summary>
    public static byte[] Initial(byte[] dcid, byte[] scid, int size = 1200)
        => LongHeader(InitialFirstByte, 1, dcid, scid, [0x00], size);

    public static byte[] Handshake(byte[] dcid, byte[] scid, int size = 100)
        => LongHeader(HandshakeFirstByte, 1, dcid, scid, [], size);

    public static byte[] ZeroRtt(byte[] dcid, byte[] scid, int size = 200)
        => LongHeader(ZeroRttFirstByte, 1, dcid, scid, [], size);

    /// <summary>A long header with only the RFC 8999 §5.1 invariant fields and <paramref name="size"/> bytes in all.</summary>
    public static byte[] Invariant(byte first, uint version, byte[] dcid, byte[] scid, int size = 1200)
    {
        var bytes = new List<byte> { first };
        var v = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(v, version);
        bytes.AddRange(v);
        bytes.Add((byte)dcid.Length);
        bytes.AddRange(dcid);
        bytes.Add((byte)scid.Length);
        bytes.AddRange(scid);
        while (bytes.Count < size)
        {
            bytes.Add((byte)(bytes.Count * 7));
        }

        return [.. bytes];
    }

    /// <summary>A Version Negotiation packet (RFC 9000 §17.2.1): version 0, CIDs, version list.</summary>
    public static byte[] VersionNegotiation(byte[] dcid, byte[] scid)
    {
        byte[] header = Invariant(0x80, 0, dcid, scid, size: 0);
        return [.. header, 0, 0, 0, 1, 0x1a, 0x2a, 0x3a, 0x4a];
    }

    /// <summary>A 1-RTT short header (RFC 9000 §17.3.1) to <paramref name="dcid"/> with a 1-byte PN and <paramref name="payload"/> protected bytes.</summary>
    public static byte[] Short(byte[] dcid, int payload = 40, byte first = 0x40)
    {
        var bytes = new byte[1 + dcid.Length + 1 + payload];
        bytes[0] = first;
        dcid.CopyTo(bytes, 1);
        for (int i = 1 + dcid.Length; i < bytes.Length; i++)
        {
            bytes[i] = (byte)(i * 13);
        }

        return bytes;
    }

    private static byte[] LongHeader(byte first, uint version, byte[] dcid, byte[] scid, byte[] token, int size)
    {
        byte[] invariant = Invariant(first, version, dcid, scid, size: 0);
        int headerLength = invariant.Length + token.Length + 2; // 2-byte Length varint
        int length = Math.Max(size - headerLength, 21);
        var bytes = new byte[headerLength + length];
        invariant.CopyTo(bytes, 0);
        token.CopyTo(bytes, invariant.Length);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(invariant.Length + token.Length), (ushort)(0x4000 | length));
        for (int i = headerLength; i < bytes.Length; i++)
        {
            bytes[i] = (byte)(i * 31);
        }

        return bytes;
    }

    public static byte[] WithFirstByte(byte[] datagram, int first)
    {
        datagram[0] = (byte)first;
        return datagram;
    }

    /// <summary>Every seed shape, for fuzzing.</summary>
    public static byte[][] Seeds(bool masked = false) =>
    [
        Initial(ClientCid(), ClientCid(seed: 3)),
        Initial(ClientCid(length: 20), []),
        Initial(ClientCid(), ClientCid(AppAId)),
        Initial(ServerCid(Old, masked), ClientCid(seed: 4)),
        ZeroRtt(ClientCid(), ClientCid(AppBId)),
        Handshake(ServerCid(Old, masked), ClientCid()),
        Handshake(ServerCid(AppAOld, masked), ClientCid(AppAId)),
        Invariant(RetryFirstByte, 1, ClientCid(), ServerCid(Active, masked), size: 60),
        Invariant(0xc0, 0x6b3343cf, ClientCid(), ClientCid(AppAId)),
        Invariant(0x80, 0x1a2a3a4a, new byte[255], new byte[255], size: 600),
        VersionNegotiation(ClientCid(), ServerCid(Active, masked)),
        Short(ServerCid(Old, masked)),
        Short(ServerCid(Active, masked), payload: 1200),
        Short(ServerCid(AppA, masked)),
        Short(ServerCid(Exited, masked)),
        Short(ServerCid(Old, masked), first: 0x00),
        [.. Initial(ClientCid(), ClientCid(), size: 600), .. Handshake(ServerCid(Old, masked), ClientCid()), .. Short(ServerCid(Old, masked))],
    ];
}
