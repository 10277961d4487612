using System.Buffers.Binary;
using AspNetQuicSteer.Steering.ConnectionIds;

namespace AspNetQuicSteer.Steering.Membership;

/// <summary>
/// What every generation on a port must agree on, handed from a live generation to a joining one over the share
/// socket (<see cref="PortGroupShare"/>), together with the descriptors the mode needs:
/// <list type="bullet">
/// <item>the dataplane mode (one per port: a classic program and an eBPF one would replace each other);</item>
/// <item>the connection-ID layout: QUIC-LB configuration, server ID, length and masking. A short header does not
/// carry its CID length (RFC 9000 §17.3.1), so every generation must issue CIDs of one length with the generation
/// at one offset;</item>
/// <item>the stateless master secret: stateless-reset tokens (RFC 9000 §10.3) and Retry/NEW_TOKEN tokens
/// (§8.1.3) must verify in every generation of the app, so all derive their keys from one secret.</item>
/// </list>
/// <code>
/// "QSGD" | version u8 = 1 | mode u8 | has UDP socket u8 | has eBPF maps u8 | has TCP listener u8
/// | rotation u8 | server ID len u8 | nonce len u8 | self-encode u8 | key len u8 (0 or 16) | key | server ID
/// | CID len u8 | masked u8 | secret len u8 (32..64) | secret
/// </code>
/// Descriptors follow in SCM_RIGHTS, in this order: the UDP socket (forwarding mode), the Kestrel TCP listener on
/// the same port (when the generation has one: HTTP/1.1 and HTTP/2 survive a rollover the same way), the socket map
/// and the active map (eBPF mode).
/// </summary>
internal sealed record PortGroupDescription(
    SteeringDataplaneMode Mode,
    QuicLbConfiguration QuicLb,
    byte[] ServerId,
    int ConnectionIdLength,
    bool MaskGeneration,
    byte[] MasterSecret)
{
    private static ReadOnlySpan<byte> Magic => "QSGD"u8;

    public const byte Version = 1;

    public const int MinSecretLength = 32;

    public const int MaxSecretLength = 64;

    /// <summary>The CID options a generation of this port uses.</summary>
    public SteeringConnectionIdOptions ConnectionIdOptions(GenerationId generation) => new()
    {
        QuicLb = QuicLb,
        ServerId = ServerId,
        Generation = generation,
        MaskGeneration = MaskGeneration,
        ConnectionIdLength = ConnectionIdLength,
    };

    public byte[] Write(bool hasUdpSocket, bool hasEbpfMaps, bool hasTcpListener = false)
    {
        ReadOnlySpan<byte> key = QuicLb.Key;
        byte[] bytes = new byte[4 + 5 + 5 + key.Length + ServerId.Length + 2 + 1 + MasterSecret.Length];
        var span = bytes.AsSpan();
        Magic.CopyTo(span);
        int at = 4;
        span[at++] = Version;
        span[at++] = (byte)Mode;
        span[at++] = hasUdpSocket ? (byte)1 : (byte)0;
        span[at++] = hasEbpfMaps ? (byte)1 : (byte)0;
        span[at++] = hasTcpListener ? (byte)1 : (byte)0;
        span[at++] = QuicLb.ConfigRotation;
        span[at++] = (byte)QuicLb.ServerIdLength;
        span[at++] = (byte)QuicLb.NonceLength;
        span[at++] = QuicLb.SelfEncodeLength ? (byte)1 : (byte)0;
        span[at++] = (byte)key.Length;
        key.CopyTo(span[at..]);
        at += key.Length;
        ServerId.CopyTo(span[at..]);
        at += ServerId.Length;
        span[at++] = (byte)ConnectionIdLength;
        span[at++] = MaskGeneration ? (byte)1 : (byte)0;
        span[at++] = (byte)MasterSecret.Length;
        MasterSecret.CopyTo(span[at..]);
        return bytes;
    }

    /// <summary>Parses a description; every inconsistency is a <see cref="PortGroupShareException"/> naming the field.</summary>
    public static PortGroupDescription Parse(ReadOnlySpan<byte> bytes, out bool hasUdpSocket, out bool hasEbpfMaps) =>
        Parse(bytes, out hasUdpSocket, out hasEbpfMaps, out _);

    /// <inheritdoc cref="Parse(ReadOnlySpan{byte}, out bool, out bool)"/>
    public static PortGroupDescription Parse(ReadOnlySpan<byte> bytes, out bool hasUdpSocket, out bool hasEbpfMaps, out bool hasTcpListener)
    {
        var reader = new Reader(bytes);
        if (!reader.Take(4, "magic").SequenceEqual(Magic)) throw new PortGroupShareException("not a port-group description (bad magic)");
        byte version = reader.Byte("version");
        if (version != Version) throw new PortGroupShareException($"port-group description version {version}; this build speaks {Version}");
        var mode = (SteeringDataplaneMode)reader.Byte("mode");
        if (mode is not (SteeringDataplaneMode.ReuseportCbpf or SteeringDataplaneMode.ReuseportEbpf or SteeringDataplaneMode.Forwarding))
        {
            throw new PortGroupShareException($"unknown dataplane mode {(byte)mode}");
        }

        hasUdpSocket = reader.Flag("has UDP socket");
        hasEbpfMaps = reader.Flag("has eBPF maps");
        hasTcpListener = reader.Flag("has TCP listener");
        int rotation = reader.Byte("config rotation");
        int serverIdLength = reader.Byte("server ID length");
        int nonceLength = reader.Byte("nonce length");
        bool selfEncode = reader.Flag("self-encode");
        int keyLength = reader.Byte("key length");
        ReadOnlySpan<byte> key = reader.Take(keyLength, "key");
        QuicLbConfiguration quicLb;
        try
        {
            quicLb = new QuicLbConfiguration(rotation, serverIdLength, nonceLength, key, selfEncode);
        }
        catch (ArgumentException e)
        {
            throw new PortGroupShareException($"invalid QUIC-LB configuration: {e.Message}", e);
        }

        byte[] serverId = reader.Take(serverIdLength, "server ID").ToArray();
        int cidLength = reader.Byte("CID length");
        bool masked = reader.Flag("masked");
        int secretLength = reader.Byte("secret length");
        if (secretLength is < MinSecretLength or > MaxSecretLength) throw new PortGroupShareException($"secret length {secretLength} is outside {MinSecretLength}..{MaxSecretLength}");
        byte[] secret = reader.Take(secretLength, "secret").ToArray();
        if (!reader.AtEnd) throw new PortGroupShareException("trailing bytes after the port-group description");
        var description = new PortGroupDescription(mode, quicLb, serverId, cidLength, masked, secret);
        try
        {
            description.ConnectionIdOptions(new GenerationId(1)).Validate();
        }
        catch (ArgumentException e)
        {
            throw new PortGroupShareException($"inconsistent connection-ID layout: {e.Message}", e);
        }

        return description;
    }

    /// <summary>Whether a generation configured with <paramref name="other"/>'s CID layout and secret can share the port.</summary>
    public bool HasSameLayoutAs(PortGroupDescription other) =>
        QuicLb.ConfigRotation == other.QuicLb.ConfigRotation && QuicLb.ServerIdLength == other.QuicLb.ServerIdLength
        && QuicLb.NonceLength == other.QuicLb.NonceLength && QuicLb.SelfEncodeLength == other.QuicLb.SelfEncodeLength
        && QuicLb.Key.SequenceEqual(other.QuicLb.Key) && ServerId.AsSpan().SequenceEqual(other.ServerId)
        && ConnectionIdLength == other.ConnectionIdLength && MaskGeneration == other.MaskGeneration;

    public bool Equals(PortGroupDescription? other) =>
        other is not null && Mode == other.Mode && HasSameLayoutAs(other) && MasterSecret.AsSpan().SequenceEqual(other.MasterSecret);

    public override int GetHashCode() => HashCode.Combine(Mode, ConnectionIdLength, BinaryPrimitives.ReadInt32LittleEndian(MasterSecret));

    private ref struct Reader(ReadOnlySpan<byte> bytes)
    {
        private ReadOnlySpan<byte> _rest = bytes;

        public readonly bool AtEnd => _rest.IsEmpty;

        public ReadOnlySpan<byte> Take(int length, string field)
        {
            if (length > _rest.Length) throw new PortGroupShareException($"port-group description truncated at {field}");
            ReadOnlySpan<byte> taken = _rest[..length];
            _rest = _rest[length..];
            return taken;
        }

        public byte Byte(string field) => Take(1, field)[0];

        public bool Flag(string field) => Byte(field) switch
        {
            0 => false,
            1 => true,
            byte other => throw new PortGroupShareException($"{field} is {other}; 0 or 1 expected"),
        };
    }
}

/// <summary>A port-group description or share exchange that cannot be used: malformed, or refused by the peer.</summary>
internal sealed class PortGroupShareException : IOException
{
    public PortGroupShareException()
    {
    }

    public PortGroupShareException(string message) : base(message)
    {
    }

    public PortGroupShareException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
