using System.Diagnostics.CodeAnalysis;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Frames;

/// <summary>PATH_CHALLENGE (RFC 9000 §19.17): 8 bytes of opaque data, carried here as a big-endian integer.</summary>
internal readonly record struct PathChallengeFrame(ulong Data)
{
    public static PathChallengeFrame Parse(scoped ref QuicReader reader, ulong frameType)
    {
        return new PathChallengeFrame(reader.ReadUInt64());
    }

    public void Write(ref QuicWriter writer)
    {
        writer.WriteVarInt((ulong)FrameType.PathChallenge);
        writer.WriteUInt64(Data);
    }

    [SuppressMessage("Performance", "CA1822:Mark members as static", Justification = "Every frame exposes the same instance Write/GetLength shape.")]
    public int GetLength() => 1 + 8;
}
