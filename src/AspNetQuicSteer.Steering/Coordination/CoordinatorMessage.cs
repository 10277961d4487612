using System.Buffers.Binary;

namespace AspNetQuicSteer.Steering.Coordination;

/// <summary>
/// One frame of the generation coordinator's control protocol. Every frame is one SOCK_SEQPACKET message
/// (unix(7): "connection-oriented, preserves message boundaries, and delivers messages in the order that they
/// were sent"), laid out as
/// <code>
/// magic "QSTR" (4) | version (1) = 1 | type (1) | payload length (4, big-endian) | payload
/// </code>
/// The length is redundant with the message boundary on purpose: a frame whose length disagrees with what the
/// socket delivered (a truncated or concatenated message) is rejected rather than guessed at. Each derived record
/// knows its payload's length, how to write it and how to parse it.
/// </summary>
internal abstract record CoordinatorMessage
{
    public const byte ProtocolVersion = 1;
    public const int HeaderLength = 10;
    public const int MaxPayloadLength = 128 * 1024;
    public const int MaxFrameLength = HeaderLength + MaxPayloadLength;

    public static ReadOnlySpan<byte> Magic => "QSTR"u8;

    public abstract CoordinatorMessageType Type { get; }

    public abstract int GetPayloadLength();

    public abstract void WritePayload(ref FrameWriter writer);

    /// <summary>Header plus payload.</summary>
    public int GetLength() => HeaderLength + GetPayloadLength();

    /// <summary>Writes the whole frame; returns its length. <paramref name="destination"/> must hold <see cref="GetLength"/> bytes.</summary>
    public int Write(Span<byte> destination)
    {
        int payloadLength = GetPayloadLength();
        if (payloadLength > MaxPayloadLength)
        {
            throw new InvalidOperationException($"{Type} payload of {payloadLength} bytes exceeds {MaxPayloadLength}.");
        }

        if (destination.Length < HeaderLength + payloadLength)
        {
            throw new ArgumentException($"Destination of {destination.Length} bytes is shorter than the {HeaderLength + payloadLength}-byte frame.", nameof(destination));
        }

        Magic.CopyTo(destination);
        destination[4] = ProtocolVersion;
        destination[5] = (byte)Type;
        BinaryPrimitives.WriteUInt32BigEndian(destination[6..], (uint)payloadLength);
        var writer = new FrameWriter(destination.Slice(HeaderLength, payloadLength));
        WritePayload(ref writer);
        if (writer.Position != payloadLength)
        {
            throw new InvalidOperationException($"{Type} wrote {writer.Position} payload bytes but declared {payloadLength}.");
        }

        return HeaderLength + payloadLength;
    }

    public byte[] ToArray()
    {
        byte[] frame = new byte[GetLength()];
        Write(frame);
        return frame;
    }

    /// <summary>
    /// Parses exactly one frame. Throws <see cref="CoordinatorProtocolException"/> (and nothing else) for any bytes
    /// that are not a valid version-1 frame; its <see cref="CoordinatorProtocolException.ErrorCode"/> is
    /// <see cref="CoordinatorErrorCode.UnsupportedVersion"/> when only the version is foreign.
    /// </summary>
    public static CoordinatorMessage Parse(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < HeaderLength)
        {
            throw new CoordinatorProtocolException($"Frame of {frame.Length} bytes is shorter than the {HeaderLength}-byte header.");
        }

        if (!frame[..4].SequenceEqual(Magic))
        {
            throw new CoordinatorProtocolException($"Frame does not start with the magic 'QSTR' (got {Convert.ToHexString(frame[..4])}).");
        }

        if (frame[4] != ProtocolVersion)
        {
            throw new CoordinatorProtocolException(
                CoordinatorErrorCode.UnsupportedVersion,
                $"Frame has protocol version {frame[4]}; this coordinator speaks version {ProtocolVersion}.");
        }

        var type = (CoordinatorMessageType)frame[5];
        uint declared = BinaryPrimitives.ReadUInt32BigEndian(frame[6..]);
        if (declared > MaxPayloadLength || declared != (uint)(frame.Length - HeaderLength))
        {
            throw new CoordinatorProtocolException(
                $"Frame declares a {declared}-byte payload but carries {frame.Length - HeaderLength} bytes (at most {MaxPayloadLength}).");
        }

        var reader = new FrameReader(frame[HeaderLength..], type);
        CoordinatorMessage message = type switch
        {
            CoordinatorMessageType.Join => JoinMessage.ParsePayload(ref reader),
            CoordinatorMessageType.JoinAccepted => JoinAcceptedMessage.ParsePayload(ref reader),
            CoordinatorMessageType.Ready => new ReadyMessage(reader.ReadGeneration("generation")),
            CoordinatorMessageType.Activate => new ActivateMessage(reader.ReadGeneration("generation")),
            CoordinatorMessageType.Drain => new DrainMessage(reader.ReadGeneration("generation")),
            CoordinatorMessageType.Exited => ExitedMessage.ParsePayload(ref reader),
            CoordinatorMessageType.Rollback => RollbackMessage.ParsePayload(ref reader),
            CoordinatorMessageType.StatusRequest => StatusRequestMessage.Instance,
            CoordinatorMessageType.Status => StatusMessage.ParsePayload(ref reader),
            CoordinatorMessageType.Error => ErrorMessage.ParsePayload(ref reader),
            CoordinatorMessageType.Report => ReportMessage.ParsePayload(ref reader),
            _ => throw new CoordinatorProtocolException($"Unknown message type {(byte)type} in protocol version {ProtocolVersion}."),
        };
        reader.EnsureEnd();
        return message;
    }
}

/// <summary>Per-generation counters a generation reports and the status view shows.</summary>
internal readonly record struct GenerationCounters(ushort Sockets, ulong Routed, ulong Forwarded, ulong Dropped)
{
    public const int WireLength = 2 + 8 + 8 + 8;

    public void Write(ref FrameWriter writer)
    {
        writer.WriteUInt16(Sockets);
        writer.WriteUInt64(Routed);
        writer.WriteUInt64(Forwarded);
        writer.WriteUInt64(Dropped);
    }

    public static GenerationCounters Read(ref FrameReader reader)
        => new(reader.ReadUInt16("sockets"), reader.ReadUInt64("routed"), reader.ReadUInt64("forwarded"), reader.ReadUInt64("dropped"));
}

/// <summary>
/// Client → coordinator, first message on a connection. <paramref name="RequestedGeneration"/> null asks the
/// coordinator to allocate one. <paramref name="ResumeState"/> is set only by a process that was already a member
/// of the group and re-joins a new coordinator after the previous one's host exited (see README, takeover).
/// <paramref name="Pid"/> is informational: the coordinator records the SO_PEERCRED pid.
/// <code>pid u32 | requested u8 (0 = allocate) | resume state u8 (0 = fresh) | capabilities u32 | cibir len u8 (≤ 20) | cibir | app len u8 | app UTF-8</code>
/// </summary>
internal sealed record JoinMessage(
    int Pid,
    GenerationId? RequestedGeneration,
    string AppName,
    byte[] CibirId,
    CoordinatorCapabilities Capabilities,
    GenerationState? ResumeState = null) : CoordinatorMessage
{
    /// <summary>CIBIR IDs are connection-ID prefixes; a CID is at most 20 bytes (RFC 9000 §17.2).</summary>
    public const int MaxCibirIdLength = 20;

    public override CoordinatorMessageType Type => CoordinatorMessageType.Join;

    public override int GetPayloadLength() => 4 + 1 + 1 + 4 + 1 + CibirId.Length + 1 + CoordinatorText.AppNameLength(AppName);

    public override void WritePayload(ref FrameWriter writer)
    {
        if (CibirId.Length > MaxCibirIdLength) throw new ArgumentException($"CIBIR ID is {CibirId.Length} bytes; at most {MaxCibirIdLength}.");
        writer.WriteUInt32((uint)Pid);
        writer.WriteOptionalGeneration(RequestedGeneration);
        writer.WriteByte((byte)(ResumeState ?? 0));
        writer.WriteUInt32((uint)Capabilities);
        writer.WriteByte((byte)CibirId.Length);
        writer.WriteBytes(CibirId);
        writer.WriteByte((byte)CoordinatorText.AppNameLength(AppName));
        writer.WriteUtf8(AppName);
    }

    public static JoinMessage ParsePayload(ref FrameReader reader)
    {
        uint pid = reader.ReadUInt32("pid");
        if (pid > int.MaxValue) throw reader.Malformed($"pid {pid} is out of range");
        GenerationId? requested = reader.ReadOptionalGeneration("requested generation");
        byte resume = reader.ReadByte("resume state");
        if (resume != 0 && !((GenerationState)resume).IsLive()) throw reader.Malformed($"resume state {resume} is not Joining, Ready, Active or Draining");
        if (resume != 0 && requested is null) throw reader.Malformed("a resuming join must name its generation");
        var capabilities = (CoordinatorCapabilities)reader.ReadUInt32("capabilities");
        byte cibirLength = reader.ReadByte("CIBIR ID length");
        if (cibirLength > MaxCibirIdLength) throw reader.Malformed($"CIBIR ID length {cibirLength} exceeds {MaxCibirIdLength}");
        byte[] cibir = reader.ReadBytes(cibirLength, "CIBIR ID").ToArray();
        string app = reader.ReadUtf8(reader.ReadByte("app name length"), CoordinatorText.MaxAppNameBytes, "app name");
        return new JoinMessage((int)pid, requested, app, cibir, capabilities, resume == 0 ? null : (GenerationState)resume);
    }

    public bool Equals(JoinMessage? other)
        => other is not null && Pid == other.Pid && RequestedGeneration == other.RequestedGeneration && AppName == other.AppName
           && CibirId.AsSpan().SequenceEqual(other.CibirId) && Capabilities == other.Capabilities && ResumeState == other.ResumeState;

    public override int GetHashCode() => HashCode.Combine(Pid, RequestedGeneration, AppName, CibirId.Length, Capabilities, ResumeState);
}

/// <summary>Coordinator → joiner: the generation it got, the currently active one (null = none), the coordinator's protocol version.</summary>
internal sealed record JoinAcceptedMessage(GenerationId Generation, GenerationId? ActiveGeneration, byte CoordinatorVersion) : CoordinatorMessage
{
    public override CoordinatorMessageType Type => CoordinatorMessageType.JoinAccepted;

    public override int GetPayloadLength() => 3;

    public override void WritePayload(ref FrameWriter writer)
    {
        writer.WriteGeneration(Generation);
        writer.WriteOptionalGeneration(ActiveGeneration);
        writer.WriteByte(CoordinatorVersion);
    }

    public static JoinAcceptedMessage ParsePayload(ref FrameReader reader)
        => new(reader.ReadGeneration("generation"), reader.ReadOptionalGeneration("active generation"), reader.ReadByte("protocol version"));
}

/// <summary>Both ways. Client: "my generation passed its health gate". Broadcast: "generation is Ready".</summary>
internal sealed record ReadyMessage(GenerationId Generation) : CoordinatorMessage
{
    public override CoordinatorMessageType Type => CoordinatorMessageType.Ready;

    public override int GetPayloadLength() => 1;

    public override void WritePayload(ref FrameWriter writer) => writer.WriteGeneration(Generation);
}

/// <summary>Both ways. Client: "activate this generation". Broadcast: "this generation now takes new connections".</summary>
internal sealed record ActivateMessage(GenerationId Generation) : CoordinatorMessage
{
    public override CoordinatorMessageType Type => CoordinatorMessageType.Activate;

    public override int GetPayloadLength() => 1;

    public override void WritePayload(ref FrameWriter writer) => writer.WriteGeneration(Generation);
}

/// <summary>Both ways. Client: "drain this generation". Broadcast: "this generation drains (GOAWAY, finish, exit)".</summary>
internal sealed record DrainMessage(GenerationId Generation) : CoordinatorMessage
{
    public override CoordinatorMessageType Type => CoordinatorMessageType.Drain;

    public override int GetPayloadLength() => 1;

    public override void WritePayload(ref FrameWriter writer) => writer.WriteGeneration(Generation);
}

/// <summary>
/// Both ways. Client: "my generation is exiting" with its final counters. Broadcast: a generation left, cleanly or
/// (<see cref="ExitKind.Dead"/>) because its control connection dropped.
/// <code>generation u8 | kind u8 | counters (26) | reason len u16 (≤ 1024) | reason UTF-8</code>
/// </summary>
internal sealed record ExitedMessage(GenerationId Generation, ExitKind Kind, GenerationCounters Counters, string Reason) : CoordinatorMessage
{
    public string Reason { get; init; } = CoordinatorText.Truncate(Reason, CoordinatorText.MaxTextBytes);

    public override CoordinatorMessageType Type => CoordinatorMessageType.Exited;

    public override int GetPayloadLength() => 1 + 1 + GenerationCounters.WireLength + 2 + System.Text.Encoding.UTF8.GetByteCount(Reason);

    public override void WritePayload(ref FrameWriter writer)
    {
        writer.WriteGeneration(Generation);
        writer.WriteByte((byte)Kind);
        Counters.Write(ref writer);
        writer.WriteUInt16((ushort)System.Text.Encoding.UTF8.GetByteCount(Reason));
        writer.WriteUtf8(Reason);
    }

    public static ExitedMessage ParsePayload(ref FrameReader reader)
    {
        GenerationId generation = reader.ReadGeneration("generation");
        byte kind = reader.ReadByte("exit kind");
        if (kind > (byte)ExitKind.Dead) throw reader.Malformed($"exit kind {kind} is not Clean (0) or Dead (1)");
        GenerationCounters counters = GenerationCounters.Read(ref reader);
        string reason = reader.ReadUtf8(reader.ReadUInt16("reason length"), CoordinatorText.MaxTextBytes, "reason");
        return new ExitedMessage(generation, (ExitKind)kind, counters, reason);
    }
}

/// <summary>
/// Both ways. Client: "make <paramref name="To"/> (a Draining generation) active again". Broadcast:
/// <paramref name="To"/> is active again; <paramref name="From"/> is the generation it replaces (null = none).
/// </summary>
internal sealed record RollbackMessage(GenerationId To, GenerationId? From) : CoordinatorMessage
{
    public override CoordinatorMessageType Type => CoordinatorMessageType.Rollback;

    public override int GetPayloadLength() => 2;

    public override void WritePayload(ref FrameWriter writer)
    {
        writer.WriteGeneration(To);
        writer.WriteOptionalGeneration(From);
    }

    public static RollbackMessage ParsePayload(ref FrameReader reader)
        => new(reader.ReadGeneration("to generation"), reader.ReadOptionalGeneration("from generation"));
}

/// <summary>Client → coordinator: ask for a <see cref="StatusMessage"/>. Allowed before joining (status tools).</summary>
internal sealed record StatusRequestMessage : CoordinatorMessage
{
    public static readonly StatusRequestMessage Instance = new();

    public override CoordinatorMessageType Type => CoordinatorMessageType.StatusRequest;

    public override int GetPayloadLength() => 0;

    public override void WritePayload(ref FrameWriter writer)
    {
    }
}

/// <summary>
/// One row of the status view. <paramref name="Since"/> is when it entered <paramref name="State"/>, on the
/// coordinator's clock. <paramref name="CibirId"/> is empty for the port's default app; a CIBIR app's members build
/// their long-header rules from it (draft-banks-quic-cibir-01 §2.2).
/// </summary>
internal readonly record struct GenerationStatus(
    GenerationId Generation,
    int Pid,
    GenerationState State,
    TimeSpan Since,
    GenerationCounters Counters,
    string AppName,
    AspNetQuicSteer.Quic.Wire.ConnectionId CibirId = default)
{
    public int WireLength => 1 + 1 + 4 + 8 + GenerationCounters.WireLength + 1 + CoordinatorText.AppNameLength(AppName) + 1 + CibirId.Length;
}

/// <summary>
/// Coordinator → requester: the generation table. <paramref name="Now"/> is the coordinator's clock (milliseconds
/// since it started), so <c>Now - Since</c> is how long a generation has been in its state.
/// <code>now u64 ms | active u8 (0 = none) | count u8 | count × (generation u8 | state u8 | pid u32 | since u64 ms | counters (26) | app len u8 | app | CIBIR len u8 (≤ 20) | CIBIR ID)</code>
/// Live generations come first, in reuseport socket order (GenerationCoordinatorState.Snapshot).
/// </summary>
internal sealed record StatusMessage(TimeSpan Now, GenerationId? ActiveGeneration, IReadOnlyList<GenerationStatus> Generations) : CoordinatorMessage
{
    public override CoordinatorMessageType Type => CoordinatorMessageType.Status;

    public override int GetPayloadLength()
    {
        if (Generations.Count > 255) throw new InvalidOperationException("At most 255 generations fit a status frame.");
        int length = 8 + 1 + 1;
        foreach (GenerationStatus row in Generations) length += row.WireLength;
        return length;
    }

    public override void WritePayload(ref FrameWriter writer)
    {
        writer.WriteMilliseconds(Now);
        writer.WriteOptionalGeneration(ActiveGeneration);
        writer.WriteByte((byte)Generations.Count);
        foreach (GenerationStatus row in Generations)
        {
            writer.WriteGeneration(row.Generation);
            writer.WriteByte((byte)row.State);
            writer.WriteUInt32((uint)row.Pid);
            writer.WriteMilliseconds(row.Since);
            row.Counters.Write(ref writer);
            writer.WriteByte((byte)CoordinatorText.AppNameLength(row.AppName));
            writer.WriteUtf8(row.AppName);
            writer.WriteByte((byte)row.CibirId.Length);
            writer.WriteBytes(row.CibirId.Span);
        }
    }

    public static StatusMessage ParsePayload(ref FrameReader reader)
    {
        TimeSpan now = reader.ReadMilliseconds("now");
        GenerationId? active = reader.ReadOptionalGeneration("active generation");
        int count = reader.ReadByte("generation count");
        var rows = new GenerationStatus[count];
        for (int i = 0; i < count; i++)
        {
            GenerationId generation = reader.ReadGeneration("generation");
            byte state = reader.ReadByte("state");
            if (state is < (byte)GenerationState.Joining or > (byte)GenerationState.Dead) throw reader.Malformed($"state {state} is not 1..6");
            uint pid = reader.ReadUInt32("pid");
            if (pid > int.MaxValue) throw reader.Malformed($"pid {pid} is out of range");
            TimeSpan since = reader.ReadMilliseconds("since");
            GenerationCounters counters = GenerationCounters.Read(ref reader);
            string app = reader.ReadUtf8(reader.ReadByte("app name length"), CoordinatorText.MaxAppNameBytes, "app name");
            byte cibirLength = reader.ReadByte("CIBIR ID length");
            if (cibirLength > JoinMessage.MaxCibirIdLength) throw reader.Malformed($"CIBIR ID length {cibirLength} exceeds {JoinMessage.MaxCibirIdLength}");
            var cibir = new AspNetQuicSteer.Quic.Wire.ConnectionId(reader.ReadBytes(cibirLength, "CIBIR ID"));
            rows[i] = new GenerationStatus(generation, (int)pid, (GenerationState)state, since, counters, app, cibir);
        }

        return new StatusMessage(now, active, rows);
    }

    /// <summary>The row of <paramref name="generation"/>, if present.</summary>
    public GenerationStatus? Find(GenerationId generation)
    {
        foreach (GenerationStatus row in Generations)
        {
            if (row.Generation == generation) return row;
        }

        return null;
    }

    /// <summary>A fixed-width table for humans (a status command, logs).</summary>
    public string FormatTable()
    {
        var text = new System.Text.StringBuilder();
        text.Append(System.Globalization.CultureInfo.InvariantCulture, $"coordinator uptime {Now.TotalSeconds:F1} s, active {(ActiveGeneration?.ToString() ?? "none")}\n");
        text.Append("gen     pid       state     for(s)   sockets  routed          forwarded       dropped         app\n");
        foreach (GenerationStatus row in Generations)
        {
            text.Append(System.Globalization.CultureInfo.InvariantCulture,
                $"{row.Generation,-7} {row.Pid,-9} {row.State,-9} {(Now - row.Since).TotalSeconds,-8:F1} {row.Counters.Sockets,-8} {row.Counters.Routed,-15} {row.Counters.Forwarded,-15} {row.Counters.Dropped,-15} {row.AppName}\n");
        }

        return text.ToString();
    }

    public bool Equals(StatusMessage? other)
        => other is not null && Now == other.Now && ActiveGeneration == other.ActiveGeneration && Generations.SequenceEqual(other.Generations);

    public override int GetHashCode() => HashCode.Combine(Now, ActiveGeneration, Generations.Count);
}

/// <summary>
/// Coordinator → client: a refused request (the connection stays) or a fatal condition (the coordinator closes
/// the connection after it). <code>code u16 | message len u16 (≤ 1024) | message UTF-8</code>
/// </summary>
internal sealed record ErrorMessage(CoordinatorErrorCode Code, string Message) : CoordinatorMessage
{
    public string Message { get; init; } = CoordinatorText.Truncate(Message, CoordinatorText.MaxTextBytes);

    public override CoordinatorMessageType Type => CoordinatorMessageType.Error;

    public override int GetPayloadLength() => 2 + 2 + System.Text.Encoding.UTF8.GetByteCount(Message);

    public override void WritePayload(ref FrameWriter writer)
    {
        writer.WriteUInt16((ushort)Code);
        writer.WriteUInt16((ushort)System.Text.Encoding.UTF8.GetByteCount(Message));
        writer.WriteUtf8(Message);
    }

    public static ErrorMessage ParsePayload(ref FrameReader reader)
    {
        var code = (CoordinatorErrorCode)reader.ReadUInt16("error code");
        return new ErrorMessage(code, reader.ReadUtf8(reader.ReadUInt16("message length"), CoordinatorText.MaxTextBytes, "message"));
    }
}

/// <summary>
/// Client → coordinator, unacknowledged: a generation's current socket count and packet counters for the status
/// view. Not in the issue's list of messages; added because the status view needs the counters from somewhere.
/// </summary>
internal sealed record ReportMessage(GenerationId Generation, GenerationCounters Counters) : CoordinatorMessage
{
    public override CoordinatorMessageType Type => CoordinatorMessageType.Report;

    public override int GetPayloadLength() => 1 + GenerationCounters.WireLength;

    public override void WritePayload(ref FrameWriter writer)
    {
        writer.WriteGeneration(Generation);
        Counters.Write(ref writer);
    }

    public static ReportMessage ParsePayload(ref FrameReader reader)
        => new(reader.ReadGeneration("generation"), GenerationCounters.Read(ref reader));
}
