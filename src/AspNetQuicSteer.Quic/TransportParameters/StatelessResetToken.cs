using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace AspNetQuicSteer.Quic.TransportParameters;

/// <summary>A 16-byte stateless reset token (RFC 9000 §10.3), stored inline.</summary>
internal readonly struct StatelessResetToken : IEquatable<StatelessResetToken>
{
    /// <summary>RFC 9000 §10.3: the token is 128 bits.</summary>
    public const int Length = 16;

    private readonly TokenBytes _bytes;

    public StatelessResetToken(ReadOnlySpan<byte> value)
    {
        if (value.Length != Length)
        {
            throw new ArgumentException($"A stateless reset token is {Length} bytes; got {value.Length}.", nameof(value));
        }

        value.CopyTo(_bytes);
    }

    [UnscopedRef]
    public ReadOnlySpan<byte> Span => _bytes;

    public bool Equals(StatelessResetToken other) => Span.SequenceEqual(other.Span);

    public override bool Equals(object? obj) => obj is StatelessResetToken other && Equals(other);

    public override int GetHashCode() => BinaryPrimitives.ReadInt32LittleEndian(Span);

    public override string ToString() => Convert.ToHexStringLower(Span);

    public static bool operator ==(StatelessResetToken left, StatelessResetToken right) => left.Equals(right);

    public static bool operator !=(StatelessResetToken left, StatelessResetToken right) => !left.Equals(right);

    [InlineArray(Length)]
    private struct TokenBytes
    {
        private byte _element0;
    }
}
