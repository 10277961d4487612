using System.Security.Cryptography;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Connection;

/// <summary>
/// Chooses the connection IDs this endpoint issues (RFC 9000 §5.1). Steering implements it to embed a
/// generation / server ID; every ID it returns must have <see cref="ConnectionIdLength"/> bytes so short
/// headers can be parsed.
/// </summary>
internal interface IConnectionIdGenerator
{
    int ConnectionIdLength { get; }

    ConnectionId Generate();

    /// <summary>Cheap plausibility check of a destination CID before any lookup (e.g. a known layout).</summary>
    bool Validate(ReadOnlySpan<byte> connectionId);
}

/// <summary>Unlinkable random IDs (RFC 9000 §5.1.1), the default when no steering is configured.</summary>
internal sealed class RandomConnectionIdGenerator : IConnectionIdGenerator
{
    public RandomConnectionIdGenerator(int length = 8)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 4);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, ConnectionId.MaxLength);
        ConnectionIdLength = length;
    }

    public int ConnectionIdLength { get; }

    public ConnectionId Generate()
    {
        Span<byte> bytes = stackalloc byte[ConnectionIdLength];
        RandomNumberGenerator.Fill(bytes);
        return new ConnectionId(bytes);
    }

    public bool Validate(ReadOnlySpan<byte> connectionId) => connectionId.Length == ConnectionIdLength;
}
