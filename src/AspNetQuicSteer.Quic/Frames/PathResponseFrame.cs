using System.Diagnostics.CodeAnalysis;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Frames;

/// <summary>PATH_RESPONSE (RFC 9000 §19.18): echoes a PATH_CHALLENGE's 8 bytes, carried here as a big-endian integer.</summary>
internal readonly record struct PathResponseFrame(ulong Data)
{
    public static PathResponseFrame Parse(scoped ref QuicReader reader, ulong frameType)
    {
        return new PathResponseFrame(reader.ReadUInt64());
    }

    public void Write(ref QuicWriter writer)
    {
        writer.WriteVarInt((ulong)FrameType.PathResponse);
        writer.WriteUInt64(Data);
    }

    [SuppressMessage("Performance", "CA1822:Mark members as static", Justification = "Every frame exposes the same instance Write/GetLength shape.")]
    public int GetLength() => 1 + 8;
}
