using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace AspNetQuicSteer.Quic.Wire;

/// <summary>
/// A QUIC version 1 connection ID (RFC 9000 §5.1), 0 to 20 bytes, stored inline so that copying,
/// comparing and hashing it never allocates. Peer-supplied lengths must be validated before
/// construction (the packet and frame parsers do so); the constructor rejects longer input with an
/// <see cref="ArgumentException"/> because reaching it is a caller bug.
/// </summary>
internal readonly struct ConnectionId : IEquatable<ConnectionId>
{
    /// <summary>RFC 9000 §17.2: version 1 connection IDs are at most 20 bytes.</summary>
    public const int MaxLength = 20;

    private readonly ConnectionIdBytes _bytes;
    private readonly byte _length;

    public ConnectionId(ReadOnlySpan<byte> value)
    {
        if (value.Length > MaxLength)
        {
            throw new ArgumentException($"A connection ID is at most {MaxLength} bytes; got {value.Length}.", nameof(value));
        }

        value.CopyTo(_bytes);
        _length = (byte)value.Length;
    }

    /// <summary>The zero-length connection ID (RFC 9000 §5.1: endpoints may choose zero-length IDs).</summary>
    public static ConnectionId Empty => default;

    public int Length => _length;

    public bool IsEmpty => _length == 0;

    /// <summary>The ID bytes. The span points into this value, so it lives as long as the variable holding it.</summary>
    [UnscopedRef]
    public ReadOnlySpan<byte> Span => ((ReadOnlySpan<byte>)_bytes)[.._length];

    /// <summary>Builds an ID from peer-derived bytes; false when longer than <see cref="MaxLength"/>.</summary>
    public static bool TryCreate(ReadOnlySpan<byte> value, out ConnectionId connectionId)
    {
        if (value.Length > MaxLength)
        {
            connectionId = default;
            return false;
        }

        connectionId = new ConnectionId(value);
        return true;
    }

    public void CopyTo(Span<byte> destination) => Span.CopyTo(destination);

    public bool Equals(ConnectionId other) => Span.SequenceEqual(other.Span);

    public bool Equals(ReadOnlySpan<byte> other) => Span.SequenceEqual(other);

    public override bool Equals(object? obj) => obj is ConnectionId other && Equals(other);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(Span);
        return hash.ToHashCode();
    }

    public override string ToString() => Convert.ToHexStringLower(Span);

    public static bool operator ==(ConnectionId left, ConnectionId right) => left.Equals(right);

    public static bool operator !=(ConnectionId left, ConnectionId right) => !left.Equals(right);

    [InlineArray(MaxLength)]
    private struct ConnectionIdBytes
    {
        private byte _element0;
    }
}
