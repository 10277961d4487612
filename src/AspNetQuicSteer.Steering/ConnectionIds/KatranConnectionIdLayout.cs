using System.Buffers.Binary;
using System.Security.Cryptography;

namespace AspNetQuicSteer.Steering.ConnectionIds;

/// <summary>Katran's QUIC CID versions: the two most significant bits of the first CID octet.</summary>
internal enum KatranCidVersion : byte
{
    /// <summary>16-bit host ID starting at bit 2.</summary>
    V1 = 1,

    /// <summary>24-bit host ID in octets 1-3.</summary>
    V2 = 2,

    /// <summary>32-bit host ID in octets 1-4.</summary>
    V3 = 3,
}

/// <summary>The fields of a Katran/mvfst server CID. <paramref name="ProcessId"/> is one bit (0 or 1).</summary>
internal readonly record struct KatranConnectionIdFields(KatranCidVersion Version, uint HostId, byte WorkerId = 0, byte ProcessId = 0);

/// <summary>
/// The server-ID CID formats of Meta's Katran XDP load balancer, as an alternative to QUIC-LB. Sources (read at
/// facebookincubator/katran and facebook/mvfst main, 2026): Katran's <c>katran/lib/bpf/pckt_parsing.h</c>
/// (<c>parse_quic</c>, what the load balancer reads) and <c>balancer_consts.h</c> (<c>QUIC_CONNID_VERSION_V1..V3</c>,
/// <c>QUIC_MIN_CONNID_LEN</c> = 8), <c>katran/lib/KatranLb.h</c> (<c>kMaxQuicIdV2</c>), and mvfst's
/// <c>quic/codec/DefaultConnectionIdAlgo.cpp</c> (what the server writes, including worker and process IDs). Bit 0
/// is the most significant bit of octet 0:
/// <code>
/// V1 (0b01): bits 0-1 version | bits 2-17 host ID (16) | bits 18-25 worker ID (8) | bit 26 process ID | rest random
///            octet 0 = 01hhhhhh, octet 1 = hhhhhhhh, octet 2 = hhwwwwww, octet 3 = wwp.....
/// V2 (0b10): octet 0 = 10...... (6 random bits) | octets 1-3 host ID (24, big-endian) | octet 4 worker ID |
///            octet 5 = p....... | rest random
/// V3 (0b11): octet 0 = 11...... | octets 1-4 host ID (32, big-endian) | octet 5 worker ID | octet 6 = p....... | rest random
/// </code>
/// Version 0b00 carries no host ID (Katran falls back to consistent hashing). Katran routes by CID only when the
/// CID has at least 8 octets and the host ID, read as a signed 32-bit int, is positive (host ID 0 means "none"), so
/// V3 host IDs stop at 0x7FFFFFFF; its control plane refuses V1/V2 mappings above <c>kMaxQuicIdV2</c> = 0xFFFFFE
/// unless CID v3 is enabled. None of this is encrypted: every field is visible to on-path observers.
/// </summary>
internal static class KatranConnectionIdLayout
{
    /// <summary>Katran's <c>QUIC_MIN_CONNID_LEN</c>: shorter long-header DCIDs are not routed by CID.</summary>
    public const int MinRoutableLength = 8;

    public const int MaxLength = 20;

    /// <summary>mvfst's <c>kMinSelfConnectionIdV1Size</c>/<c>V2Size</c>/<c>V3Size</c>: octets that hold the fields.</summary>
    public static int MinLength(KatranCidVersion version) => version switch
    {
        KatranCidVersion.V1 => 4,
        KatranCidVersion.V2 => 6,
        KatranCidVersion.V3 => 7,
        _ => throw new ArgumentOutOfRangeException(nameof(version), version, "Katran CID versions are 1, 2 and 3."),
    };

    /// <summary>
    /// The largest host ID a server should put in a CID of <paramref name="version"/>: 16 bits for V1, Katran's
    /// <c>kMaxQuicIdV2</c> (2^24 − 2) for V2, and 2^31 − 1 for V3 (<c>parse_quic</c> stores the ID in an <c>int</c>
    /// and routes only positive values).
    /// </summary>
    public static uint MaxHostId(KatranCidVersion version) => version switch
    {
        KatranCidVersion.V1 => 0xFFFF,
        KatranCidVersion.V2 => 0xFF_FFFE,
        KatranCidVersion.V3 => int.MaxValue,
        _ => throw new ArgumentOutOfRangeException(nameof(version), version, "Katran CID versions are 1, 2 and 3."),
    };

    /// <summary>
    /// The worker-ID octet, where a host-local steering byte such as a <see cref="GenerationId"/> can live at a fixed
    /// offset (unmasked, as mvfst reads it): octet 4 in V2, octet 5 in V3. Null for V1, whose worker ID straddles
    /// octets 2 and 3.
    /// </summary>
    public static SteeringField? WorkerIdField(KatranCidVersion version) => version switch
    {
        KatranCidVersion.V1 => null,
        KatranCidVersion.V2 => new SteeringField(4),
        KatranCidVersion.V3 => new SteeringField(5),
        _ => throw new ArgumentOutOfRangeException(nameof(version), version, "Katran CID versions are 1, 2 and 3."),
    };

    /// <summary>Fills <paramref name="connectionId"/> with random octets, then writes <paramref name="fields"/> (allocation-free).</summary>
    public static void Fill(Span<byte> connectionId, KatranConnectionIdFields fields)
    {
        RandomNumberGenerator.Fill(connectionId);
        Write(connectionId, fields);
    }

    /// <summary>
    /// Writes version, host, worker and process IDs into <paramref name="connectionId"/>, leaving every other bit as it
    /// was (fill it with random octets first). The CID must be 8..20 octets so Katran routes it.
    /// </summary>
    public static void Write(Span<byte> connectionId, KatranConnectionIdFields fields)
    {
        uint maxHostId = MaxHostId(fields.Version);
        if (connectionId.Length is < MinRoutableLength or > MaxLength)
        {
            throw new ArgumentException(
                $"Katran routes QUIC packets by CID only when the CID has at least {MinRoutableLength} octets (QUIC_MIN_CONNID_LEN); " +
                $"CIDs are at most {MaxLength}. Got {connectionId.Length}.", nameof(connectionId));
        }

        if (fields.HostId == 0 || fields.HostId > maxHostId)
        {
            throw new ArgumentException(
                $"A Katran CID {fields.Version} host ID must be 1..0x{maxHostId:X} (0 means no server ID to Katran); got 0x{fields.HostId:X}.",
                nameof(fields));
        }

        if (fields.ProcessId > 1)
        {
            throw new ArgumentException($"The process ID is one bit; got {fields.ProcessId}.", nameof(fields));
        }

        uint host = fields.HostId;
        uint worker = fields.WorkerId;
        uint process = fields.ProcessId;
        uint version = (uint)fields.Version << 6;
        switch (fields.Version)
        {
            case KatranCidVersion.V1:
                connectionId[0] = (byte)(version | (host >> 10));                                        // 01 + host[15..10]
                connectionId[1] = (byte)(host >> 2);                                                     // host[9..2]
                connectionId[2] = (byte)(((host & 0x3) << 6) | (worker >> 2));                           // host[1..0] + worker[7..2]
                connectionId[3] = (byte)(((worker & 0x3) << 6) | (process << 5) | (connectionId[3] & 0x1Fu)); // worker[1..0] + process
                break;
            case KatranCidVersion.V2:
                connectionId[0] = (byte)(version | (connectionId[0] & 0x3Fu));
                connectionId[1] = (byte)(host >> 16);
                connectionId[2] = (byte)(host >> 8);
                connectionId[3] = (byte)host;
                connectionId[4] = fields.WorkerId;
                connectionId[5] = (byte)((process << 7) | (connectionId[5] & 0x7Fu));
                break;
            default:
                connectionId[0] = (byte)(version | (connectionId[0] & 0x3Fu));
                BinaryPrimitives.WriteUInt32BigEndian(connectionId[1..], host);
                connectionId[5] = fields.WorkerId;
                connectionId[6] = (byte)((process << 7) | (connectionId[6] & 0x7Fu));
                break;
        }
    }

    /// <summary>
    /// What Katran's <c>parse_quic</c> extracts: false for version 0b00, CIDs shorter than 8 octets, and host IDs
    /// Katran would not route by (0, or negative as a signed 32-bit int).
    /// </summary>
    public static bool TryReadServerId(ReadOnlySpan<byte> connectionId, out KatranCidVersion version, out uint hostId)
    {
        version = default;
        hostId = 0;
        if (connectionId.Length < MinRoutableLength || connectionId[0] >> 6 == 0)
        {
            return false;
        }

        version = (KatranCidVersion)(connectionId[0] >> 6);
        hostId = ReadHostId(connectionId, version);
        return hostId is > 0 and <= int.MaxValue;
    }

    /// <summary>
    /// All fields, as mvfst's <c>DefaultConnectionIdAlgo::parseConnectionId</c> reads them: false for version 0b00 or a
    /// CID shorter than the version's fields (4/6/7 octets). No host ID range check.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> connectionId, out KatranConnectionIdFields fields)
    {
        fields = default;
        if (connectionId.IsEmpty || connectionId[0] >> 6 == 0)
        {
            return false;
        }

        var version = (KatranCidVersion)(connectionId[0] >> 6);
        if (connectionId.Length < MinLength(version))
        {
            return false;
        }

        (byte worker, byte process) = version switch
        {
            KatranCidVersion.V1 => ((byte)((connectionId[2] << 2) | (connectionId[3] >> 6)), (byte)((connectionId[3] >> 5) & 1)),
            KatranCidVersion.V2 => (connectionId[4], (byte)(connectionId[5] >> 7)),
            _ => (connectionId[5], (byte)(connectionId[6] >> 7)),
        };
        fields = new KatranConnectionIdFields(version, ReadHostId(connectionId, version), worker, process);
        return true;
    }

    private static uint ReadHostId(ReadOnlySpan<byte> connectionId, KatranCidVersion version) => version switch
    {
        // "extract last 16 bits from the first 18 bits" (parse_quic)
        KatranCidVersion.V1 => (uint)(((connectionId[0] & 0x3F) << 10) | (connectionId[1] << 2) | (connectionId[2] >> 6)),
        KatranCidVersion.V2 => (uint)((connectionId[1] << 16) | (connectionId[2] << 8) | connectionId[3]),
        _ => BinaryPrimitives.ReadUInt32BigEndian(connectionId[1..]),
    };
}
