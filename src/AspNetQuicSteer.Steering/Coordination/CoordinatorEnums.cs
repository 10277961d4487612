namespace AspNetQuicSteer.Steering.Coordination;

/// <summary>Wire codes of the coordinator protocol's message types (one byte in the frame header).</summary>
internal enum CoordinatorMessageType : byte
{
    Join = 1,
    JoinAccepted = 2,
    Ready = 3,
    Activate = 4,
    Drain = 5,
    Exited = 6,
    Rollback = 7,
    StatusRequest = 8,
    Status = 9,
    Error = 10,
    Report = 11,
}

/// <summary>
/// Error codes carried by an <see cref="ErrorMessage"/> (two bytes on the wire). Values a peer does not know are
/// kept as they are: an Error frame with an unknown code is still an error.
/// </summary>
internal enum CoordinatorErrorCode : ushort
{
    /// <summary>Not a valid frame (bad magic, length mismatch, truncated field, bad UTF-8, unknown type). Fatal: the peer is closed.</summary>
    MalformedFrame = 1,

    /// <summary>The frame's protocol version is not one the receiver speaks. Fatal.</summary>
    UnsupportedVersion = 2,

    /// <summary>A well-formed message that may not travel in this direction (a client sending Status). Fatal.</summary>
    UnexpectedMessage = 3,

    /// <summary>The peer runs as another uid (SO_PEERCRED). Fatal.</summary>
    PermissionDenied = 4,

    /// <summary>The request needs a joined connection.</summary>
    NotJoined = 5,

    /// <summary>A second Join on one connection.</summary>
    AlreadyJoined = 6,

    /// <summary>Ready, Exited and Report may only be sent by the generation they name.</summary>
    NotOwner = 7,

    /// <summary>The named generation is not in the table.</summary>
    UnknownGeneration = 8,

    /// <summary>The requested generation ID belongs to a live generation.</summary>
    GenerationInUse = 9,

    /// <summary>All 255 generation IDs are live.</summary>
    NoGenerationAvailable = 10,

    /// <summary>The generation's state does not allow the request (activating a Draining one, ...).</summary>
    InvalidTransition = 11,

    /// <summary>Too many control connections, or a peer that does not read what it is sent. Fatal.</summary>
    Overloaded = 12,

    /// <summary>A bug in the coordinator while handling this peer's frame; the coordinator itself keeps running. Fatal for the peer.</summary>
    InternalError = 13,

    /// <summary>
    /// The port is served by another app and neither app can be told apart by CIBIR (draft-banks-quic-cibir): two
    /// apps without a CIBIR ID, two CIBIR IDs one of which prefixes the other, or one app with two CIBIR IDs.
    /// </summary>
    PortConflict = 14,
}

/// <summary>Lifecycle state of a generation in the coordinator's table (one byte on the wire).</summary>
internal enum GenerationState : byte
{
    /// <summary>Connected and given an ID; binding its sockets and warming up.</summary>
    Joining = 1,

    /// <summary>Health gate passed; may be activated.</summary>
    Ready = 2,

    /// <summary>Takes new connections (long-header Initials). At most one generation is Active.</summary>
    Active = 3,

    /// <summary>Serves its existing connections only, sends GOAWAY, exits within its drain time.</summary>
    Draining = 4,

    /// <summary>Reported Exited (clean). The ID may be reused.</summary>
    Exited = 5,

    /// <summary>Its control connection dropped without Exited: crashed or killed. The ID may be reused.</summary>
    Dead = 6,
}

/// <summary>How a generation left (the Exited message's kind).</summary>
internal enum ExitKind : byte
{
    /// <summary>The process reported Exited itself.</summary>
    Clean = 0,

    /// <summary>The coordinator saw its control connection drop without Exited.</summary>
    Dead = 1,
}

/// <summary>What a joining process can do (four bytes on the wire); unknown bits are carried, not rejected.</summary>
[Flags]
internal enum CoordinatorCapabilities : uint
{
    None = 0,

    /// <summary>Receives packets forwarded by other generations (the userspace correctness path).</summary>
    Forwarding = 1,

    /// <summary>Can attach the reuseport classic BPF program.</summary>
    ReuseportCbpf = 2,

    /// <summary>Can attach the reuseport eBPF program (privileged).</summary>
    ReuseportEbpf = 4,

    /// <summary>Can hand over or adopt listening sockets with SCM_RIGHTS.</summary>
    SocketHandoff = 8,
}

internal static class GenerationStateExtensions
{
    /// <summary>Joining, Ready, Active or Draining: the process is (as far as the coordinator knows) running.</summary>
    public static bool IsLive(this GenerationState state)
        => state is GenerationState.Joining or GenerationState.Ready or GenerationState.Active or GenerationState.Draining;
}
