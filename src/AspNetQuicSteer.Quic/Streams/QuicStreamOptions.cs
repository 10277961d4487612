using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Streams;

/// <summary>
/// Per-connection stream and flow-control settings (RFC 9000 §4). Setters validate so a manager can
/// rely on them; windows are in bytes, stream counts are concurrent streams the peer may keep open.
/// </summary>
internal sealed class QuicStreamOptions
{
    private int _maxSendBufferPerStream = 1024 * 1024;
    private ulong _initialStreamReceiveWindow = 256 * 1024;
    private ulong _maxStreamReceiveWindow = 16 * 1024 * 1024;
    private ulong _initialConnectionReceiveWindow = 1024 * 1024;
    private ulong _maxConnectionReceiveWindow = 24 * 1024 * 1024;
    private ulong _maxConcurrentBidiStreams = 100;
    private ulong _maxConcurrentUniStreams = 100;

    /// <summary>Largest receive window a stream may grow to; kept within a ring buffer of int size.</summary>
    public const ulong MaxWindowLimit = 1UL << 30;

    /// <summary>Bytes the app may have written to one stream and not yet seen acknowledged (backpressure).</summary>
    public int MaxSendBufferPerStream
    {
        get => _maxSendBufferPerStream;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, (int)MaxWindowLimit);
            _maxSendBufferPerStream = value;
        }
    }

    /// <summary>Initial per-stream credit we give the peer (initial_max_stream_data_*, RFC 9000 §18.2).</summary>
    public ulong InitialStreamReceiveWindow
    {
        get => _initialStreamReceiveWindow;
        set
        {
            ValidateWindow(value);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, _maxStreamReceiveWindow);
            _initialStreamReceiveWindow = value;
        }
    }

    /// <summary>Ceiling for per-stream window auto-tuning.</summary>
    public ulong MaxStreamReceiveWindow
    {
        get => _maxStreamReceiveWindow;
        set
        {
            ValidateWindow(value);
            ArgumentOutOfRangeException.ThrowIfLessThan(value, _initialStreamReceiveWindow);
            _maxStreamReceiveWindow = value;
        }
    }

    /// <summary>Initial connection-level credit we give the peer (initial_max_data, RFC 9000 §18.2).</summary>
    public ulong InitialConnectionReceiveWindow
    {
        get => _initialConnectionReceiveWindow;
        set
        {
            ValidateWindow(value);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, _maxConnectionReceiveWindow);
            _initialConnectionReceiveWindow = value;
        }
    }

    /// <summary>Ceiling for connection-level window auto-tuning.</summary>
    public ulong MaxConnectionReceiveWindow
    {
        get => _maxConnectionReceiveWindow;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1UL);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, QuicVarInt.MaxValue / 2);
            ArgumentOutOfRangeException.ThrowIfLessThan(value, _initialConnectionReceiveWindow);
            _maxConnectionReceiveWindow = value;
        }
    }

    /// <summary>Bidirectional streams the peer may have open at once (initial_max_streams_bidi, RFC 9000 §4.6).</summary>
    public ulong MaxConcurrentBidiStreams
    {
        get => _maxConcurrentBidiStreams;
        set
        {
            ValidateStreamCount(value);
            _maxConcurrentBidiStreams = value;
        }
    }

    /// <summary>Unidirectional streams the peer may have open at once (initial_max_streams_uni, RFC 9000 §4.6).</summary>
    public ulong MaxConcurrentUniStreams
    {
        get => _maxConcurrentUniStreams;
        set
        {
            ValidateStreamCount(value);
            _maxConcurrentUniStreams = value;
        }
    }

    private static void ValidateWindow(ulong value)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(value, 1UL);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(value, MaxWindowLimit);
    }

    private static void ValidateStreamCount(ulong value)
    {
        // RFC 9000 §4.6: a stream count cannot exceed 2^60. Kept far lower: each open peer stream costs memory.
        ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 1UL << 20);
    }
}
